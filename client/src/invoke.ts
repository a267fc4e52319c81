import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { fromInvokeError, TokenServiceError } from './errors.js';

/**
 * An instant as milliseconds since 1970-01-01T00:00:00Z, as `Date.now()` gives it. The service's
 * `EpochMs`, repeated because this package imports nothing of the service.
 */
export type EpochMs = number;

/** The tickets get-token hands out for a merchant: `jsapi` (JS-SDK `wx.config`) and `wx_card` (cards). */
export type TicketKind = 'jsapi' | 'wx_card';

/** What get-token accepts (the service's `GetTokenRequest`). */
export type GetTokenRequest =
  | { authorizerAppId: string; invalidToken?: string }
  | { component: true; invalidToken?: string }
  | { authorizerAppId: string; ticket: TicketKind; invalidTicket?: string };

/** A token or a ticket as get-token hands it out (`accessToken` or `ticket` in its answer). */
export interface Issued {
  appId: string;
  value: string;
  expiresAt: EpochMs;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `fn answered …` as a `malformed_response`. */
export function malformed(fn: string, detail: string): TokenServiceError {
  return new TokenServiceError('malformed_response', `${fn} answered ${detail}`);
}

/**
 * Reads a function's answer: a JSON object, or `{"error":{"code","message"}}` thrown as a `TokenServiceError`
 * with the service's code. Anything else is `malformed_response`.
 */
export function readAnswer(fn: string, payload: Uint8Array | undefined): Record<string, unknown> {
  let answer: unknown;
  try {
    answer = JSON.parse(decoder.decode(payload ?? new Uint8Array()));
  } catch {
    throw malformed(fn, 'something that is not JSON');
  }
  if (!answer || typeof answer !== 'object' || Array.isArray(answer))
    throw malformed(fn, 'no object');
  const { error } = answer as Record<string, unknown>;
  if (error && typeof error === 'object') {
    const { code, message } = error as Record<string, unknown>;
    if (typeof code !== 'string' || !code) throw malformed(fn, 'an error without a code');
    throw new TokenServiceError(code, typeof message === 'string' ? message : code);
  }
  return answer as Record<string, unknown>;
}

/**
 * One synchronous invoke (`RequestResponse`) of the service's function `functionName` (called `fn` in
 * messages), bounded by `timeoutMs`, and its answer read by `readAnswer`.
 *
 * @throws TokenServiceError: the service's code, or `function_error`, `timeout`, `endpoint_unreachable`,
 *   `invoke_failed`, `malformed_response`.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
export async function invokeFunction(
  lambda: LambdaClient,
  fn: string,
  functionName: string,
  request: unknown,
  timeoutMs: number
): Promise<Record<string, unknown>> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new TokenServiceError('timeout', `${fn} did not answer within ${timeoutMs} ms`));
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
    throw fromInvokeError(error, fn);
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
      `${fn} failed (${output.FunctionError}: ${errorType})`
    );
  }
  return readAnswer(fn, output.Payload);
}

/**
 * One invoke of get-token: a token (`accessToken`) or, for a ticket request, a ticket (`ticket`), with its
 * `expiresAt`. A caller never gets a missing token or ticket: that is `malformed_response`.
 *
 * @throws TokenServiceError, as `invokeFunction`.
 */
export async function invokeGetToken(
  lambda: LambdaClient,
  functionName: string,
  request: GetTokenRequest,
  timeoutMs: number
): Promise<Issued> {
  const answer = await invokeFunction(lambda, 'get-token', functionName, request, timeoutMs);
  const field = 'ticket' in request ? 'ticket' : 'accessToken';
  const { appId, expiresAt } = answer;
  const value = answer[field];
  const expires = typeof expiresAt === 'string' ? Date.parse(expiresAt) : Number.NaN;
  if (typeof value !== 'string' || !value) throw malformed('get-token', `no ${field}`);
  if (!Number.isFinite(expires)) throw malformed('get-token', 'no valid expiresAt');
  return { appId: typeof appId === 'string' ? appId : '', value, expiresAt: expires };
}
