import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createAuthorizeLinks } from '../shared/authorization/authorize-links';
import { publicRouteBudget, spendPublicBudget } from '../shared/budgets/public-budget';
import { parseAuthorizeOptions } from '../shared/wechat/auth-links';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { header, html, http, publicOrigin } from './lib/http';
import { inLambda } from './lib/invoked';
import { busyPage, entryPage, viewerOf } from './lib/pages';

export const CALLBACK_PATH = '/authorize/callback';

/**
 * `GET /authorize?auth_type&biz_appid&category_id_list`: the authorization entry page (授权发起页) a
 * merchant admin opens. Each visit mints a fresh single-use `pre_auth_code` and shows the PC (QR code) and
 * mobile links. It must be served from the authorization domain configured in the WeChat console, since
 * WeChat rejects clicks whose Referer is another domain. Anyone can open it, so each visit first takes a
 * unit of the route's WeChat budget; past it, the visitor gets the busy page and nothing is called.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Authorization_Process_Technical_Description.html
 */
export const createHandler =
  (deps: GetDeps) => async (event: APIGatewayProxyEventV2, context?: InvocationContext) => {
    const options = parseAuthorizeOptions(event.queryStringParameters ?? {});
    const d = forInvocation(await deps(), workBudget(context));
    const viewer = viewerOf((name) => header(event, name), d.config.platformDisplayName);
    const verdict = await spendPublicBudget(d, 'authorize', publicRouteBudget(d.config));
    if (!verdict.granted) return html(...busyPage(viewer, verdict, 'entry'));
    const redirectUri = d.config.authorizeRedirectUri ?? `${publicOrigin(event)}${CALLBACK_PATH}`;
    const base = d.config.wechatAuthorizePageBaseUrl;
    const links = await createAuthorizeLinks(d, {
      redirectUri,
      options,
      pageOrigins: base
        ? { pc: `${base}/cgi-bin/componentloginpage`, h5: `${base}/wxaopen/safe/bindcomponent` }
        : undefined,
    });
    const minutesLeft = Math.max(1, Math.floor((links.expiresAt - d.clock()) / 60_000));
    return html(...entryPage(viewer, { pc: links.pc, h5: links.h5, minutesLeft }));
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), { format: 'html', route: 'GET /authorize' });

export const handler = inLambda(makeHandler(getDeps));
