/**
 * Load-test Jobs applied in the same `kubectl apply` as the stack: they wait until the stack
 * serves (the wait script runs here for real, under sh and wget, against a server that answers
 * 503 first), retry their setup within a deadline, and adding them never restarts Prometheus.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { SETUP_MAX_MINUTES } from '../../lib/loadtest/k6.ts';
import { BUILTIN_SCENARIOS } from '../../lib/loadtest/scenario.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { SETUP_RETRIES, STACK_READY_MAX_MINUTES } from '../../charts/index.ts';
import { synthObjects } from './synth.ts';

const profile = loadProfile('optimized');
const mixed = { ...BUILTIN_SCENARIOS.mixed!, parallelism: 2 };

function runScript(script: string): Promise<{ code: number | null; stderr: string }> {
  // The pods run busybox wget; GNU wget has the same flags and the same non-zero exit on a 5xx.
  if (spawnSync('wget', ['--version']).error) throw new Error('wget is missing: install it (apt-get install wget) to run the wait script as the pods do');
  return runShell(script);
}

function runShell(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A stand-in for nginx in front of the API: /readyz answers 503 `notReadyFor` times, then 200. */
async function readyAfter(notReadyFor: number): Promise<{ port: number; requests: () => number }> {
  let requests = 0;
  server = createServer((req, res) => {
    requests++;
    res.statusCode = req.url === '/readyz' && requests > notReadyFor ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, requests: () => requests };
}

describe('load-test Jobs wait for the stack', () => {
  const lt = synthObjects({ profile, loadTest: mixed });
  const waitOf = (job: string) => lt.find('Job', job).spec.template.spec.initContainers.find((c: any) => c.name === 'wait-for-stack');

  it('setup and runners first wait for /readyz through nginx, within a bounded deadline', () => {
    for (const job of ['loadtest-setup', 'loadtest']) {
      const wait = waitOf(job);
      expect(wait, job).toBeDefined();
      expect(wait.command[2]).toContain('http://nginx-internal.apistack.svc.cluster.local/readyz');
      expect(wait.command[2]).toContain(`+ ${STACK_READY_MAX_MINUTES * 60} ))`);
      expect(lt.find('Job', job).spec.template.spec.initContainers[0].name, `${job}: the stack first`).toBe('wait-for-stack');
    }
    const setup = lt.find('Job', 'loadtest-setup').spec;
    expect(setup.backoffLimit).toBe(SETUP_RETRIES);
    expect(setup.activeDeadlineSeconds).toBe((STACK_READY_MAX_MINUTES + SETUP_MAX_MINUTES) * 60);
  });

  it('the wait script returns once /readyz answers 200, not before', async () => {
    const stack = await readyAfter(2);
    const script = waitOf('loadtest').command[2].replaceAll('http://nginx-internal.apistack.svc.cluster.local', `http://127.0.0.1:${stack.port}`).replaceAll('sleep 2', 'sleep 0.2');
    const r = await runScript(script);
    expect(r).toEqual({ code: 0, stderr: '' });
    expect(stack.requests()).toBe(3);
  });

  it('gives up at its deadline with a message, which fails the pod', async () => {
    const stack = await readyAfter(Number.POSITIVE_INFINITY);
    const script = waitOf('loadtest-setup')
      .command[2].replaceAll('http://nginx-internal.apistack.svc.cluster.local', `http://127.0.0.1:${stack.port}`)
      .replace(`+ ${STACK_READY_MAX_MINUTES * 60} ))`, '+ 1 ))')
      .replaceAll('sleep 2', 'sleep 0.2');
    const r = await runScript(script);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the stack did not become ready within ${STACK_READY_MAX_MINUTES} minutes: http://127.0.0.1:${stack.port}/readyz never answered 200`);
    expect(stack.requests()).toBeGreaterThan(1);
  });

  it("Prometheus' pod template is the same with and without the load test (it already receives remote writes)", () => {
    const plain = synthObjects({ profile });
    const template = (s: typeof lt) => s.find('StatefulSet', 'prometheus').spec.template;
    expect(template(lt)).toEqual(template(plain));
    expect(template(plain).spec.containers[0].args).toContain('--web.enable-remote-write-receiver');
    // Only the load test's policy lets writers in: without it, default-deny keeps the receiver closed.
    expect(plain.objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'prometheus-remote-write')).toBeUndefined();
  });
});
