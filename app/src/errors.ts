/** The one catalogue of coded errors the API answers with: {"error": {"code", "message"}}. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const errors = {
  validation: (message: string) => new ApiError(400, 'VALIDATION_ERROR', message),
  tooDeep: (maxDepth: number) => new ApiError(400, 'JSON_TOO_DEEP', `request body nests objects and arrays deeper than ${maxDepth} levels; send a flatter document`),
  badCursor: () => new ApiError(400, 'INVALID_CURSOR', 'cursor is not one this API issued; start again without it'),
  unauthorized: (message = 'missing or invalid credentials') => new ApiError(401, 'UNAUTHORIZED', message),
  notFound: (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`),
  conflict: (message: string) => new ApiError(409, 'CONFLICT', message),
  idempotencyMismatch: () => new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body'),
  rateLimited: (retryAfterSeconds: number) => new ApiError(429, 'RATE_LIMITED', 'rate limit exceeded for this API key', { 'retry-after': String(retryAfterSeconds) }),
  unavailable: (message: string) => new ApiError(503, 'UNAVAILABLE', message, { 'retry-after': '5' }),
  // What Fastify, its body parser or Postgres reject, in the same shape (app.ts: handleError).
  invalidJson: (message: string) => new ApiError(400, 'INVALID_JSON', message),
  badUrl: (message: string) => new ApiError(400, 'BAD_URL', message),
  unstorableValue: (message: string) => new ApiError(400, 'VALIDATION_ERROR', `a value cannot be stored: ${message}`),
  payloadTooLarge: () => new ApiError(413, 'PAYLOAD_TOO_LARGE', 'request body is larger than this route accepts'),
  unsupportedMediaType: () => new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON with Content-Type: application/json'),
  /** Another 4xx a plugin raised, under its own code. */
  clientError: (statusCode: number, code: string | undefined, message: string) => new ApiError(statusCode, code ?? 'BAD_REQUEST', message),
  backingServiceUnreachable: () => new ApiError(503, 'UNAVAILABLE', 'a backing service is unreachable; retry shortly', { 'retry-after': '5' }),
  internal: () => new ApiError(500, 'INTERNAL', 'internal error'),
} as const;
