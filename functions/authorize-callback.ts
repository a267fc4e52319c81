import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { AuthCodeExpiredError, errorCode, InvalidRequestError } from '../shared/errors';
import { exchangeAuthCode } from '../shared/tokens/auth-codes';
import { AUTH_CODE_DEFAULT_LIFETIME_MS } from '../shared/tokens/policy';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { escapeHtml, page } from './lib/html';
import { html, http } from './lib/http';
import { inLambda } from './lib/invoked';

const AUTH_CODE = /^[A-Za-z0-9@_\-.~+/=]{8,512}$/;
/** What broken clients send for a missing value; WeChat never issues these. */
const PLACEHOLDERS = /^(null|undefined|none|nil)$/i;
const START_AGAIN = '<p><a class="button" href="/authorize">Start the authorization again</a></p>';

function readCallbackQuery(event: APIGatewayProxyEventV2) {
  const query = event.queryStringParameters ?? {};
  const code = query.auth_code;
  if (!code)
    throw new InvalidRequestError('the link has no auth_code; start the authorization again');
  if (!AUTH_CODE.test(code) || PLACEHOLDERS.test(code)) {
    throw new InvalidRequestError('auth_code is malformed');
  }
  const expiresIn = query.expires_in;
  if (expiresIn !== undefined && !/^\d{1,5}$/.test(expiresIn)) {
    throw new InvalidRequestError('expires_in is malformed');
  }
  const lifetime = expiresIn ? Math.min(Number(expiresIn) * 1000, 3_600_000) : undefined;
  return { code, lifetimeMs: lifetime ?? AUTH_CODE_DEFAULT_LIFETIME_MS };
}

/**
 * `GET /authorize/callback?auth_code&expires_in`: where WeChat sends the admin after confirming. The code is
 * stored first, then exchanged once with `api_query_auth` (the `authorized` push carries the same code; the
 * two paths never exchange it twice). The admin sees a plain result page.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export const createHandler =
  (deps: GetDeps) => async (event: APIGatewayProxyEventV2, context?: InvocationContext) => {
    const query = readCallbackQuery(event);
    const d = forInvocation(await deps(), workBudget(context));
    const now = d.clock();
    try {
      const result = await exchangeAuthCode(d, {
        code: query.code,
        source: 'redirect',
        receivedAt: now,
        expiresAt: now + query.lifetimeMs,
      });
      if (result.status === 'exchanged') {
        const authorizer = await d.store.getAuthorizer(d.componentAppId, result.authorizerAppId);
        const permissions = authorizer?.funcInfo.length
          ? `<p class="muted">Permission sets granted: ${escapeHtml(authorizer.funcInfo.join(', '))}</p>`
          : '';
        return html(
          200,
          page(
            'Authorization complete',
            `<p id="result" data-status="authorized">The account <code>${escapeHtml(result.authorizerAppId)}</code> is now authorized. You can close this page.</p>${permissions}`
          )
        );
      }
    } catch (error) {
      if (error instanceof AuthCodeExpiredError) {
        return html(
          400,
          page(
            'Authorization expired',
            `<p id="result" data-status="expired">This authorization link has expired or was already used.</p>${START_AGAIN}`
          )
        );
      }
      d.log.warn('authorization code stored; exchange will be retried', { code: errorCode(error) });
    }
    return html(
      202,
      page(
        'Authorization received',
        '<p id="result" data-status="pending">WeChat confirmed your authorization. We are completing it and will retry automatically in the next minutes; there is nothing more to do.</p>'
      )
    );
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), { format: 'html', route: 'GET /authorize/callback' });

export const handler = inLambda(makeHandler(getDeps));
