import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  type AuthRedirect,
  handleAuthRedirect,
} from '../shared/authorization/handle-auth-redirect';
import { publicRouteBudget } from '../shared/budgets/public-budget';
import { InvalidRequestError } from '../shared/errors';
import { AUTH_CODE_MAX_LIFETIME_MS } from '../shared/policy';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { header, html, http } from './lib/http';
import { inLambda } from './lib/invoked';
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

function readCallbackQuery(event: APIGatewayProxyEventV2): AuthRedirect {
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
 * `GET /authorize/callback?auth_code&expires_in`: where WeChat sends the admin after confirming. The code
 * is stored and exchanged once (`handleAuthRedirect`, which also keeps the route within its WeChat
 * budget); the admin sees the account's name and granted permission sets, the busy page past the budget,
 * or why the authorization is not finished yet.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export const createHandler =
  (deps: GetDeps) => async (event: APIGatewayProxyEventV2, context?: InvocationContext) => {
    const redirect = readCallbackQuery(event);
    const d = forInvocation(await deps(), workBudget(context));
    const viewer = viewerOf((name) => header(event, name), d.config.platformDisplayName);
    const outcome = await handleAuthRedirect(d, redirect, publicRouteBudget(d.config));
    switch (outcome.status) {
      case 'busy':
        return html(...busyPage(viewer, outcome.verdict, 'callback'));
      case 'authorized':
        return html(...authorizedPage(viewer, outcome.account));
      case 'expired':
        return html(...expiredPage(viewer));
      case 'pending':
        return html(...pendingPage(viewer));
    }
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), { format: 'html', route: 'GET /authorize/callback' });

export const handler = inLambda(makeHandler(getDeps));
