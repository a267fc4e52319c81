import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { fromInvokeError, TokenServiceError } from './errors.js';

/**
 * An instant as milliseconds since 1970-01-01T00:00:00Z, as `Date.now()` gives it. The service's
 * `EpochMs`, repeated because this package imports nothing of the service.
 */
export type EpochMs = number;

/** What get-token accepts (the service's `GetTokenRequest`). */
export type GetTokenRequest =
  | { authorizerAppId: string; invalidToken?: string }
  | { component: true; invalidToken?: string };

/** A token as get-token hands it out. */
export interface IssuedToken {
  appId: string;
  accessToken: string;
  expiresAt: EpochMs;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function malformed(detail: string): TokenServiceError {
  return new TokenServiceError('malformed_response', `get-token answered ${detail}`);
}

/**
 * Reads get-token's answer: a token, or `{"error":{"code","message"}}` thrown as a `TokenServiceError` with
 * the service's code. Anything else is `malformed_response`: a caller never gets a missing token.
 */
export function readAnswer(payload: Uint8Array | undefined): IssuedToken {
  let answer: unknown;
  try {
    answer = JSON.parse(decoder.decode(payload ?? new Uint8Array()));
  } catch {
    throw malformed('something that is not JSON');
  }
  if (!answer || typeof answer !== 'object') throw malformed('no object');
  const { error, appId, accessToken, expiresAt } = answer as Record<string, unknown>;
  if (error && typeof error === 'object') {
    const { code, message } = error as Record<string, unknown>;
    if (typeof code !== 'string' || !code) throw malformed('an error without a code');
    throw new TokenServiceError(code, typeof message === 'string' ? message : code);
  }
  const expires = typeof expiresAt === 'string' ? Date.parse(expiresAt) : Number.NaN;
  if (typeof accessToken !== 'string' || !accessToken) throw malformed('no accessToken');
  if (!Number.isFinite(expires)) throw malformed('no valid expiresAt');
  return { appId: typeof appId === 'string' ? appId : '', accessToken, expiresAt: expires };
}

/**
 * One synchronous invoke of get-token (`RequestResponse`), bounded by `timeoutMs`.
 *
 * @throws TokenServiceError: the service's code, or `function_error`, `timeout`, `endpoint_unreachable`,
 *   `invoke_failed`, `malformed_response`.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
export async function invokeGetToken(
  lambda: LambdaClient,
  functionName: string,
  request: GetTokenRequest,
  timeoutMs: number
): Promise<IssuedToken> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new TokenServiceError('timeout', `get-token did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const sent = lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: encoder.encode(JSON.stringify(request)),
    }),
    { abortSignal: abort.signal }
  );
  // After a timeout the aborted send rejects too; that rejection is the deadline's, already reported.
  sent.catch(() => {});
  let output: InvokeCommandOutput;
  try {
    output = await Promise.race([sent, deadline]);
  } catch (error) {
    throw fromInvokeError(error);
  } finally {
    clearTimeout(timer);
  }
  if (output.FunctionError) {
    let errorType = output.FunctionError;
    try {
      const body = JSON.parse(decoder.decode(output.Payload)) as { errorType?: unknown };
      if (typeof body.errorType === 'string') errorType = body.errorType;
    } catch {
      // Lambda's own error body is JSON; a missing one still is a function error.
    }
    throw new TokenServiceError(
      'function_error',
      `get-token failed (${output.FunctionError}: ${errorType})`
    );
  }
  return readAnswer(output.Payload);
}
