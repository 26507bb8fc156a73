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
} as const;
