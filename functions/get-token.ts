import { isAppId } from '../shared/config';
import { errorCode, InvalidRequestError, UpstreamUnavailableError } from '../shared/errors';
import { getAuthorizerAccessToken } from '../shared/tokens/authorizer-tokens';
import { getComponentAccessToken } from '../shared/tokens/component-token';
import { type GetDeps, getDeps } from './lib/deps';
import { inLambda, invoked } from './lib/invoked';

/** What a caller sends: one authorizer's token, or the platform's own component token. */
export type GetTokenRequest =
  | { authorizerAppId: string; invalidToken?: string }
  | { component: true; invalidToken?: string };

export type GetTokenResponse =
  | { appId: string; accessToken: string; expiresAt: string }
  | { error: { code: GetTokenErrorCode; message: string } };

export type GetTokenErrorCode =
  | 'authorizer_not_found'
  | 'authorizer_revoked'
  | 'needs_reauthorization'
  | 'ticket_unavailable'
  | 'invalid_request'
  | 'upstream_unavailable';

const PASSED_THROUGH = new Set<string>([
  'authorizer_not_found',
  'authorizer_revoked',
  'needs_reauthorization',
  'ticket_unavailable',
  'invalid_request',
]);
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

/**
 * get-token, invoked directly by callers (`lambda:InvokeFunction`, authorized by IAM): returns a valid
 * access token for one authorizer or for the platform. The hot path is one DynamoDB read; a refresh happens
 * only when the token is about to expire or is the one the caller reports WeChat just rejected
 * (`invalidToken`, after 40001/42001), and then once across all concurrent callers.
 *
 * Errors are answered, not thrown, with a stable `code` callers can branch on.
 */
export const createHandler =
  (deps: GetDeps) =>
  async (event: unknown): Promise<GetTokenResponse> => {
    let appId = 'unknown';
    try {
      const request = parseGetTokenRequest(event);
      const d = await deps();
      const token =
        'component' in request
          ? await getComponentAccessToken(d, request)
          : await getAuthorizerAccessToken(d, request.authorizerAppId, request);
      appId = 'component' in request ? d.componentAppId : request.authorizerAppId;
      return {
        appId,
        accessToken: token.accessToken,
        expiresAt: new Date(token.expiresAt).toISOString(),
      };
    } catch (error) {
      const code = errorCode(error);
      const passed = PASSED_THROUGH.has(code);
      const d = await deps().catch(() => undefined);
      const fields = {
        code,
        reason: error instanceof UpstreamUnavailableError ? error.reason : undefined,
        errorName: passed ? undefined : (error as Error | undefined)?.name,
      };
      if (passed) d?.log.info('get-token refused', fields);
      else d?.log.error('get-token failed', fields);
      return {
        error: passed
          ? { code: code as GetTokenErrorCode, message: (error as Error).message }
          : {
              code: 'upstream_unavailable',
              message: 'a token could not be obtained from WeChat just now; retry shortly',
            },
      };
    }
  };

/** The handler wrapped in middy, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) => invoked(createHandler(deps));

export const handler = inLambda(makeHandler(getDeps));
