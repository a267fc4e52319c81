import { isAppId } from '../shared/config';
import {
  type CallerErrorCode,
  callerErrorCode,
  errorCode,
  InvalidRequestError,
  UpstreamUnavailableError,
} from '../shared/errors';
import { type TokenHandle, tokenHandle } from '../shared/serving/token-handle';
import { answerWithin, forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type Deps, type GetDeps, getDeps } from './lib/deps';
import { inLambda, invoked } from './lib/invoked';

/** What a caller sends: one authorizer's token, or the platform's own component token. */
export type GetTokenRequest =
  | { authorizerAppId: string; invalidToken?: string }
  | { component: true; invalidToken?: string };

/** What get-token answers; `expiresAt` is a promise (ISO 8601), see `createHandler`. */
export type GetTokenResponse =
  | { appId: string; accessToken: string; expiresAt: string }
  | { error: { code: CallerErrorCode; message: string } };

const ALLOWED_KEYS = new Set(['authorizerAppId', 'component', 'invalidToken']);

/** Validates the payload strictly: unknown keys, wrong types and placeholder values are refused. */
export function parseGetTokenRequest(event: unknown): GetTokenRequest {
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidRequestError('the request must be a JSON object');
  }
  const keys = Object.keys(event);
  const unknown = keys.filter((key) => !ALLOWED_KEYS.has(key));
  if (unknown.length) {
    throw new InvalidRequestError(
      `unknown field(s): ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`
    );
  }
  const body = event as Record<string, unknown>;
  const invalidToken = body.invalidToken;
  if (
    invalidToken !== undefined &&
    (typeof invalidToken !== 'string' || invalidToken.length === 0 || invalidToken.length > 2048)
  ) {
    throw new InvalidRequestError('invalidToken must be the non-empty token WeChat rejected');
  }
  const extra = invalidToken === undefined ? {} : { invalidToken };
  if ('component' in body) {
    if (body.component !== true) throw new InvalidRequestError('component must be true');
    if ('authorizerAppId' in body) {
      throw new InvalidRequestError('send either authorizerAppId or component, not both');
    }
    return { component: true, ...extra };
  }
  if (!isAppId(body.authorizerAppId)) {
    throw new InvalidRequestError(
      'authorizerAppId must be an appid (wx followed by letters and digits)'
    );
  }
  return { authorizerAppId: body.authorizerAppId, ...extra };
}

/** The stored token when the deadline comes before the refresh finished. */
async function fallback(d: Deps, token: TokenHandle, invalidToken: string | undefined) {
  const stored = await token.peek(invalidToken);
  if (!stored) throw new UpstreamUnavailableError('deadline');
  d.log.warn('answered with the stored token: the refresh did not finish before the deadline', {
    appId: token.appId,
  });
  return stored;
}

/**
 * get-token, invoked directly by callers (`lambda:InvokeFunction`, authorized by IAM): returns a valid
 * access token for one authorizer or for the platform. The hot path is one DynamoDB read; a refresh happens
 * only when the token's promised life is nearly over or it is the one the caller reports WeChat just
 * rejected (`invalidToken`), and then once across all concurrent callers.
 *
 * `expiresAt` is a promise: WeChat accepts the token until then (architecture §7). The answer always comes
 * before the invocation's deadline (`getRemainingTimeInMillis`): the still-valid token, or a coded error.
 * Errors are answered, not thrown, with a stable `code` from `CALLER_ERROR_CODES`.
 */
export const createHandler =
  (deps: GetDeps) =>
  async (event: unknown, context?: InvocationContext): Promise<GetTokenResponse> => {
    const budget = workBudget(context);
    let d: Deps | undefined;
    try {
      const request = parseGetTokenRequest(event);
      const ready = forInvocation(await deps(), budget);
      d = ready;
      const token = tokenHandle(ready, request);
      const issued = await answerWithin(budget, token.serve(request), () =>
        fallback(ready, token, request.invalidToken)
      );
      return {
        appId: token.appId,
        accessToken: issued.accessToken,
        expiresAt: new Date(issued.expiresAt).toISOString(),
      };
    } catch (error) {
      const code = callerErrorCode(error);
      d ??= await deps().catch(() => undefined);
      const fields = {
        code: errorCode(error),
        reason: error instanceof UpstreamUnavailableError ? error.reason : undefined,
        errorName: code === 'upstream_unavailable' ? (error as Error | undefined)?.name : undefined,
      };
      if (code === 'upstream_unavailable') d?.log.error('get-token failed', fields);
      else d?.log.info('get-token refused', fields);
      return {
        error:
          code === 'upstream_unavailable'
            ? { code, message: 'a token could not be obtained from WeChat just now; retry shortly' }
            : { code, message: (error as Error).message },
      };
    }
  };

/** The handler wrapped in middy, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) => invoked(createHandler(deps));

export const handler = inLambda(makeHandler(getDeps));
