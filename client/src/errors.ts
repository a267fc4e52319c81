/**
 * Codes the get-token and call-wechat functions answer in `{"error":{"code":…}}`. Stable: branch on them.
 * `payload_too_large` comes only from call-wechat (a request near Lambda's 6 MB invoke limit).
 * @see ../../docs/callers.md#callers (what to do on each)
 */
export type ServiceErrorCode =
  | 'authorizer_not_found'
  | 'authorizer_revoked'
  | 'needs_reauthorization'
  | 'authorizer_without_api_permission'
  | 'authorization_code_needed'
  | 'ticket_unavailable'
  | 'jsapi_ticket_unavailable'
  | 'invalid_request'
  | 'payload_too_large'
  | 'upstream_unavailable';

/** Codes of the client's own, for an invoke that produced no answer from the service's function. */
export type ClientErrorCode =
  /** The function ran and failed (`X-Amz-Function-Error`): a bug or a crash in the service. */
  | 'function_error'
  /** No answer within `timeoutMs`. */
  | 'timeout'
  /** The Lambda endpoint could not be reached (connection refused or reset, DNS). */
  | 'endpoint_unreachable'
  /** The Lambda API refused the invoke: no permission, unknown function, throttled, no region/credentials. */
  | 'invoke_failed'
  /** The answer was neither what was asked for nor an error (not JSON, no token, no expiry, no status). */
  | 'malformed_response';

/** Every code a `TokenServiceError` can carry; a code the service adds later comes through as is. */
export type TokenErrorCode = ServiceErrorCode | ClientErrorCode | (string & {});

const RETRYABLE = new Set<string>([
  'upstream_unavailable',
  'ticket_unavailable',
  'jsapi_ticket_unavailable',
  'timeout',
  'endpoint_unreachable',
]);

/**
 * The one error the client throws. `code` is stable; `message` is for people and never contains a token.
 * `retryable` says whether the same call may succeed later without anyone changing anything.
 */
export class TokenServiceError extends Error {
  override readonly name = 'TokenServiceError';
  readonly retryable: boolean;

  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options?: ErrorOptions & { retryable?: boolean }
  ) {
    super(message, options);
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
  }
}

/**
 * Node's error codes for a peer that cannot be reached or drops the connection (`ETIMEDOUT` is a timeout to
 * the client, unreachable to the operations CLI). Shared with `cli/connection.ts`.
 */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** AWS error names for a throttled invoke (Lambda answers 429 `TooManyRequestsException`). */
const THROTTLED = /TooManyRequests|Throttl|ProvisionedConcurrency|ResourceConflict/;

/**
 * The Node system error code (`ECONNREFUSED`, …) an AWS SDK error carries, itself or in its `cause` chain:
 * the SDK wraps socket errors, so the code is not always on the outer error.
 */
export function systemCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Turns what `LambdaClient.send` threw into a `TokenServiceError`. Foreign errors are translated here, once,
 * where they enter; the original is kept as `cause`. `fn` names the function in messages.
 */
export function fromInvokeError(error: unknown, fn = 'get-token'): TokenServiceError {
  if (error instanceof TokenServiceError) return error;
  const name = (error as { name?: unknown } | undefined)?.name;
  const text = error instanceof Error ? error.message : String(error);
  if (name === 'TimeoutError' || systemCode(error) === 'ETIMEDOUT') {
    return new TokenServiceError('timeout', `${fn} did not answer in time`, { cause: error });
  }
  const code = systemCode(error);
  if (code && UNREACHABLE_CODES.has(code)) {
    return new TokenServiceError(
      'endpoint_unreachable',
      `the Lambda endpoint is unreachable (${code})`,
      {
        cause: error,
      }
    );
  }
  const awsName = typeof name === 'string' ? name : 'Error';
  return new TokenServiceError('invoke_failed', `the invoke failed: ${awsName}: ${text}`, {
    cause: error,
    retryable: THROTTLED.test(awsName),
  });
}
