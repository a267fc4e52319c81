import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { AuthCodeExpiredError, errorCode, InvalidRequestError } from '../shared/errors';
import { AUTH_CODE_MAX_LIFETIME_MS, REDIRECT_PUSH_WAIT_MS } from '../shared/policy';
import { AWAITING_PUSH, awaitAuthCode, exchangeAuthCode } from '../shared/tokens/auth-codes';
import { publicRouteBudget, spendPublicBudget } from '../shared/tokens/public-budget';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { header, html, http } from './lib/http';
import { inLambda } from './lib/invoked';
import { linkedAccount } from './lib/linked-account';
import { authorizedPage, busyPage, expiredPage, pendingPage, viewerOf } from './lib/pages';

/**
 * The shape of WeChat's authorization codes (授权码): `queryauthcode@@@` and a base64url body, 86
 * characters in every real redirect and push found in public code (e.g.
 * `?auth_code=queryauthcode@@@tKlk…4MvQ&expires_in=3600`), 64 in the simulator; 16–256 are accepted.
 * Anything else cannot be WeChat's and is refused before the store or WeChat sees it.
 */
export const AUTH_CODE_SHAPE = /^queryauthcode@@@[A-Za-z0-9_-]{16,256}$/;
/** WeChat's redirect always says how long the code lives, in seconds (600 documented, 3600 seen). */
const EXPIRES_IN = /^[1-9]\d{0,4}$/;

function readCallbackQuery(event: APIGatewayProxyEventV2) {
  const query = event.queryStringParameters ?? {};
  const code = query.auth_code;
  if (!code)
    throw new InvalidRequestError('the link has no auth_code; start the authorization again');
  if (!AUTH_CODE_SHAPE.test(code)) throw new InvalidRequestError('auth_code is malformed');
  const expiresIn = query.expires_in;
  if (expiresIn === undefined) throw new InvalidRequestError('expires_in is missing');
  if (!EXPIRES_IN.test(expiresIn)) throw new InvalidRequestError('expires_in is malformed');
  return { code, lifetimeMs: Math.min(Number(expiresIn) * 1000, AUTH_CODE_MAX_LIFETIME_MS) };
}

/**
 * `GET /authorize/callback?auth_code&expires_in`: where WeChat sends the admin after confirming. The code is
 * stored first, then exchanged once with `api_query_auth` (the `authorized` push carries the same code; the
 * two paths never exchange it twice). The admin sees the account's name and granted permission sets.
 *
 * Anyone can call it, so a code that may still cost WeChat calls (unknown or pending) first takes a unit
 * of the route's budget, which also covers the name lookup; past the budget the visitor gets the busy page
 * and nothing is stored or called. The push is never budgeted: it is signed, and usually completes the
 * authorization while the admin's redirect is still on its way.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export const createHandler =
  (deps: GetDeps) => async (event: APIGatewayProxyEventV2, context?: InvocationContext) => {
    const query = readCallbackQuery(event);
    const d = forInvocation(await deps(), workBudget(context));
    const viewer = viewerOf((name) => header(event, name), d.config.platformDisplayName);
    const budget = publicRouteBudget(d.config);
    const known = await d.store.getAuthCode(d.componentAppId, query.code);
    let spent = false;
    if (known?.status !== 'exchanged' && known?.status !== 'failed') {
      const verdict = await spendPublicBudget(d, 'authorize-callback', budget);
      if (!verdict.granted) return html(...busyPage(viewer, verdict, 'callback'));
      spent = true;
    }
    const now = d.clock();
    try {
      let result = await exchangeAuthCode(d, {
        code: query.code,
        source: 'redirect',
        receivedAt: now,
        expiresAt: now + query.lifetimeMs,
      }).catch((error: unknown) => {
        if (errorCode(error) !== AWAITING_PUSH) throw error;
        return { status: 'pending' } as const;
      });
      // A redirect's code is held until the push names its authorizer (exchangeAuthCode): the push
      // normally settles it within a second or two, so the admin sees the outcome, not "pending".
      if (result.status === 'pending') {
        result = await awaitAuthCode(d, query.code, d.clock() + REDIRECT_PUSH_WAIT_MS);
      }
      if (result.status === 'exchanged') {
        const askWechat =
          spent || (await spendPublicBudget(d, 'authorize-callback', budget)).granted;
        const account = await linkedAccount(d, result.authorizerAppId, askWechat);
        return html(...authorizedPage(viewer, account));
      }
    } catch (error) {
      if (error instanceof AuthCodeExpiredError) return html(...expiredPage(viewer));
      d.log.warn('authorization code stored; exchange will be retried', { code: errorCode(error) });
    }
    return html(...pendingPage(viewer));
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), { format: 'html', route: 'GET /authorize/callback' });

export const handler = inLambda(makeHandler(getDeps));
