import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createAuthorizeLinks } from '../shared/tokens/authorize-links';
import { parseAuthorizeOptions } from '../shared/wechat/auth-links';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { escapeHtml, page } from './lib/html';
import { html, http, publicOrigin } from './lib/http';
import { inLambda } from './lib/invoked';

export const CALLBACK_PATH = '/authorize/callback';

/**
 * `GET /authorize?auth_type&biz_appid&category_id_list`: the authorization entry page (授权发起页) a
 * merchant admin opens. Each visit mints a fresh single-use `pre_auth_code` and shows the PC (QR code) and
 * mobile links. It must be served from the authorization domain configured in the WeChat console, since
 * WeChat rejects clicks whose Referer is another domain.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Authorization_Process_Technical_Description.html
 */
export const createHandler =
  (deps: GetDeps) => async (event: APIGatewayProxyEventV2, context?: InvocationContext) => {
    const options = parseAuthorizeOptions(event.queryStringParameters ?? {});
    const d = forInvocation(await deps(), workBudget(context));
    const redirectUri = d.config.authorizeRedirectUri ?? `${publicOrigin(event)}${CALLBACK_PATH}`;
    const base = d.config.wechatAuthorizePageBaseUrl;
    const links = await createAuthorizeLinks(d, {
      redirectUri,
      options,
      pageOrigins: base
        ? { pc: `${base}/cgi-bin/componentloginpage`, h5: `${base}/wxaopen/safe/bindcomponent` }
        : undefined,
    });
    const minutes = Math.max(1, Math.floor((links.expiresAt - d.clock()) / 60_000));
    return html(
      200,
      page(
        'Authorize this platform on WeChat',
        `<p>Sign in as the administrator of your official account or mini program and confirm the
permissions. Use the link that fits your device.</p>
<p><a class="button" id="authorize-pc" href="${escapeHtml(links.pc)}">Authorize on a computer (scan a QR code)</a>
<a class="button secondary" id="authorize-h5" href="${escapeHtml(links.h5)}">Authorize in WeChat on a phone</a></p>
<p class="muted">This link is single-use and expires in about ${minutes} minutes. Reload the page for a new one.</p>`
      )
    );
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), { format: 'html', route: 'GET /authorize' });

export const handler = inLambda(makeHandler(getDeps));
