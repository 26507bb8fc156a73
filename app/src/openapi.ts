/** The OpenAPI document follows from the routes' own schemas, collected as routes register. */
import type { FastifyInstance, RouteOptions } from 'fastify';

interface Operation {
  method: string;
  url: string;
  schema: Record<string, unknown> | undefined;
}

export function collectRoutes(app: FastifyInstance): Operation[] {
  const ops: Operation[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (method !== 'HEAD') ops.push({ method: method.toLowerCase(), url: route.url ?? '', schema: route.schema as Record<string, unknown> | undefined });
  });
  return ops;
}

function parameters(schema: Record<string, unknown> | undefined, where: 'path' | 'query' | 'header', key: string) {
  const s = schema?.[key] as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  return Object.entries(s?.properties ?? {}).map(([name, prop]) => ({ name, in: where, required: where === 'path' || (s?.required ?? []).includes(name), schema: prop }));
}

export function openApiDocument(ops: readonly Operation[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ops) {
    if (op.url === '/api/openapi.json') continue;
    const path = op.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const body = op.schema?.body;
    paths[path] ??= {};
    paths[path]![op.method] = {
      parameters: [...parameters(op.schema, 'path', 'params'), ...parameters(op.schema, 'query', 'querystring'), ...parameters(op.schema, 'header', 'headers')],
      ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } } : {}),
      responses: { default: { description: 'JSON; errors are {"error": {"code", "message"}}' } },
    };
  }
  return { openapi: '3.0.3', info: { title: 'apistack API', version }, paths };
}
