import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml, HTML_TYPE, JSON_TYPE, page, readBody, send, TEXT_TYPE } from './http';
import { DEFAULT_FUNC_IDS, type WechatState } from './state';
import type { CallName, CallRecord, PushAnswer } from './types';

/**
 * The merchant's side: WeChat's authorization page (PC QR page and both H5 hosts, with the Referer and
 * domain rules), its confirm form (302 to `redirect_uri?auth_code=…&expires_in=…` plus the `authorized`
 * push), and the simulator-only revocation route.
 *
 * @see ../../docs/wechat-protocol.md §6
 */

/** Where the authorization page's form posts the merchant's confirmation. */
const CONFIRM_PATH = '/simulator/confirm';
/**
 * The merchant appid the authorization page offers when the link names none: the one the README's
 * five-minute tour uses in every later step (`curl … -d '{"authorizerAppId":"wx1234567890abcdef"}'`), so that
 * keeping it works.
 */
export const WALKTHROUGH_APPID = 'wx1234567890abcdef';
/**
 * Simulator-only control route: `POST /simulator/unauthorize?authorizer_appid=wx…[&push=0]` plays the
 * merchant revoking the authorization in WeChat's console ({@link WechatSimulator.revoke} over HTTP; the
 * sandbox's way to show revocation; `push=0` loses the push). Answers JSON:
 * `{errcode: 0, errmsg: 'ok', push: {status, body}}`, or 47001 (no/invalid appid) / 61003 (not an active
 * authorizer) with HTTP 400 / 404.
 */
const UNAUTHORIZE_PATH = '/simulator/unauthorize';
/**
 * Simulator-only control route: `POST /simulator/renew-elsewhere?authorizer_appid=wx…` plays another holder
 * of the refresh token renewing at WeChat ({@link WechatSimulator.renewElsewhere} over HTTP): the token the
 * service holds dies `supersededGraceMs` later, so a caller's report of it is honest. Answers
 * `{errcode: 0, errmsg: 'ok'}`, or 47001 / 61003 like the unauthorize route.
 */
const RENEW_ELSEWHERE_PATH = '/simulator/renew-elsewhere';
/** PC QR page, H5 new host, H5 legacy host (the simulator serves all three on one origin). */
const AUTH_PAGES = new Map([
  ['/cgi-bin/componentloginpage', false],
  ['/wxaopen/safe/bindcomponent', true],
  ['/safe/bindcomponent', true],
]);
const AUTH_TYPES = new Set(['1', '2', '3', '4', '5', '6', '8']);
const APPID_PATTERN = /^wx[0-9A-Za-z]{4,30}$/;
const DOMAIN_ERROR =
  '请确认授权入口页所在域名，与授权后回调页所在域名相同，并且，此两者都必须与申请第三方平台时填写的授权发起页域名相同。授权入口页所在域名：';
const PRE_AUTH_PROBLEMS = {
  unknown: 'pre_auth_code 无效 (invalid pre_auth_code)',
  used: 'pre_auth_code 已使用 (pre_auth_code already used)',
  expired: 'pre_auth_code 已过期 (pre_auth_code expired)',
} as const;

/** What the page routes need from the simulator around them. */
export interface PagesContext {
  state: WechatState;
  record(api: CallName, req: IncomingMessage, url: URL, body: unknown): CallRecord;
  errmsg(errcode: number, detail?: string): string;
  /** Sends the `authorized` / `updateauthorized` push for a new auth code. */
  pushAuthorization(
    infoType: 'authorized' | 'updateauthorized',
    authCode: string
  ): Promise<PushAnswer>;
  revoke(authorizerAppId: string, push: boolean): Promise<PushAnswer>;
}

type LinkCheck =
  | { ok: true; preAuthCode: string; redirectUri: string; funcIds: number[]; bizAppId?: string }
  | { ok: false; message: string };

function errorPage(message: string): string {
  return page('微信公众平台', `<h1>授权失败</h1>\n<p id="error">${escapeHtml(message)}</p>`);
}

/** Serves the page routes; false when the request is not one of them. */
export async function routePage(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: PagesContext
): Promise<boolean> {
  const h5 = AUTH_PAGES.get(url.pathname);
  if (h5 !== undefined && req.method === 'GET') {
    onAuthPage(req, res, url, h5, context);
    return true;
  }
  if (url.pathname === CONFIRM_PATH && req.method === 'POST') {
    await onConfirm(req, res, url, context);
    return true;
  }
  if (url.pathname === UNAUTHORIZE_PATH && req.method === 'POST') {
    await onUnauthorize(req, res, url, context);
    return true;
  }
  if (url.pathname === RENEW_ELSEWHERE_PATH && req.method === 'POST') {
    await onRenewElsewhere(req, res, url, context);
    return true;
  }
  return false;
}

/** Validates an authorization link (GET, with `page`: Referer, H5 and auth_type) or the confirm form. */
function checkLink(
  params: URLSearchParams,
  state: WechatState,
  page?: { referer: string | undefined; h5: boolean }
): LinkCheck {
  const get = (name: string) => params.get(name) ?? '';
  if (get('component_appid') !== state.platform.componentAppId) {
    return { ok: false, message: 'component_appid 参数错误 (invalid component_appid)' };
  }
  let redirect: URL;
  try {
    redirect = new URL(get('redirect_uri'));
    if (redirect.protocol !== 'http:' && redirect.protocol !== 'https:') {
      throw new Error('scheme');
    }
  } catch {
    return {
      ok: false,
      message: 'redirect_uri 参数错误 (redirect_uri must be an absolute http(s) URL)',
    };
  }
  if (page) {
    let host = '';
    try {
      host = page.referer ? new URL(page.referer).hostname : '';
    } catch {
      // an unparsable Referer counts as no entry domain
    }
    if (!host || host !== redirect.hostname) {
      return { ok: false, message: DOMAIN_ERROR + (host || '空') };
    }
  }
  const preAuthCode = get('pre_auth_code');
  const problem = state.preAuthCodeProblem(preAuthCode);
  if (problem) return { ok: false, message: PRE_AUTH_PROBLEMS[problem] };
  if (page?.h5 && (get('action') !== 'bindcomponent' || get('no_scan') !== '1')) {
    return { ok: false, message: '参数错误 (H5 link needs action=bindcomponent&no_scan=1)' };
  }
  if (page && !AUTH_TYPES.has(get('auth_type'))) {
    return { ok: false, message: 'auth_type 参数错误 (invalid auth_type)' };
  }
  const bizAppId = get('biz_appid') || undefined;
  if (bizAppId && !APPID_PATTERN.test(bizAppId)) {
    return { ok: false, message: 'biz_appid 参数错误 (invalid biz_appid)' };
  }
  const categories = get('category_id_list');
  if (categories && !/^\d+(\|\d+)*$/.test(categories)) {
    return { ok: false, message: 'category_id_list 参数错误 (expected ids separated by |)' };
  }
  const funcIds = categories ? categories.split('|').map(Number) : [...DEFAULT_FUNC_IDS];
  const result: LinkCheck = { ok: true, preAuthCode, redirectUri: get('redirect_uri'), funcIds };
  if (bizAppId) result.bizAppId = bizAppId;
  return result;
}

function onAuthPage(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  h5: boolean,
  context: PagesContext
): void {
  context.record('confirm_page', req, url, undefined);
  const q = url.searchParams;
  const check = checkLink(q, context.state, { referer: req.headers.referer, h5 });
  if (!check.ok) {
    send(res, 200, HTML_TYPE, errorPage(check.message));
    return;
  }
  const hidden = (name: string, value: string | undefined) =>
    value ? `<input type="hidden" name="${name}" value="${escapeHtml(value)}">` : '';
  const componentAppId = context.state.platform.componentAppId;
  const appId = check.bizAppId ?? WALKTHROUGH_APPID;
  const platform = escapeHtml(componentAppId);
  const body = `<h1>Simulated WeChat: authorize ${platform}?</h1>
<p>This page stands in for WeChat's authorization page (auth_type ${escapeHtml(q.get('auth_type') ?? '')}).</p>
<ul id="categories">${check.funcIds.map((id) => `<li>权限集 ${id}</li>`).join('')}</ul>
<form method="post" action="${CONFIRM_PATH}">
${hidden('component_appid', componentAppId)}
${hidden('pre_auth_code', check.preAuthCode)}
${hidden('redirect_uri', check.redirectUri)}
${hidden('biz_appid', check.bizAppId)}
${hidden('category_id_list', q.get('category_id_list') ?? undefined)}
<label for="authorizer_appid">Authorizer appid</label>
<input id="authorizer_appid" name="authorizer_appid" value="${escapeHtml(appId)}"${check.bizAppId ? ' readonly' : ''}>
<button id="confirm" type="submit">Confirm authorization</button>
</form>`;
  send(res, 200, HTML_TYPE, page(`Simulated WeChat: authorize ${componentAppId}?`, body));
}

async function onConfirm(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: PagesContext
): Promise<void> {
  const { state } = context;
  const form = new URLSearchParams((await readBody(req)) ?? '');
  context.record('confirm', req, url, Object.fromEntries(form));
  const check = checkLink(form, state);
  if (!check.ok) return send(res, 200, HTML_TYPE, errorPage(check.message));
  const appId = form.get('authorizer_appid') ?? '';
  if (!APPID_PATTERN.test(appId) || (check.bizAppId && appId !== check.bizAppId)) {
    return send(res, 200, HTML_TYPE, errorPage('authorizer appid 无效 (invalid authorizer appid)'));
  }
  state.consumePreAuthCode(check.preAuthCode);
  const before = state.authorizers.get(appId);
  const changed =
    before?.active && before.funcIds.join('|') !== [...new Set(check.funcIds)].join('|');
  const authCode = state.authorize(appId, check.funcIds, check.preAuthCode);
  await context.pushAuthorization(changed ? 'updateauthorized' : 'authorized', authCode);
  const cut = check.redirectUri.indexOf('#');
  const base = cut < 0 ? check.redirectUri : check.redirectUri.slice(0, cut);
  const hash = cut < 0 ? '' : check.redirectUri.slice(cut);
  const query = `auth_code=${encodeURIComponent(authCode)}&expires_in=${state.rules.codeTtlSeconds}`;
  const location = `${base}${base.includes('?') ? '&' : '?'}${query}${hash}`;
  send(res, 302, TEXT_TYPE, '', { location });
}

/**
 * A control route's request about one active authorizer: its appid and parameters, or undefined after
 * answering 47001 (no valid appid) / 61003 (no active authorization).
 */
async function controlRequest(
  name: 'unauthorize' | 'renew_elsewhere',
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: PagesContext
): Promise<{ appId: string; param: (name: string) => string | null } | undefined> {
  const form = new URLSearchParams((await readBody(req)) ?? '');
  const param = (key: string) => url.searchParams.get(key) ?? form.get(key);
  const appId = param('authorizer_appid') ?? '';
  const call = context.record(name, req, url, Object.fromEntries(form));
  const refuse = (status: number, errcode: number, detail: string) => {
    call.errcode = errcode;
    const errmsg = context.errmsg(errcode, detail);
    send(res, status, JSON_TYPE, JSON.stringify({ errcode, errmsg }));
    return undefined;
  };
  if (!APPID_PATTERN.test(appId)) return refuse(400, 47001, 'authorizer_appid is required');
  if (!context.state.authorizers.get(appId)?.active) {
    return refuse(404, 61003, `${appId} has no active authorization`);
  }
  return { appId, param };
}

/** The merchant revokes in WeChat's console: see {@link UNAUTHORIZE_PATH}. */
async function onUnauthorize(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: PagesContext
): Promise<void> {
  const request = await controlRequest('unauthorize', req, res, url, context);
  if (!request) return;
  const push = await context.revoke(request.appId, request.param('push') !== '0');
  send(res, 200, JSON_TYPE, JSON.stringify({ errcode: 0, errmsg: 'ok', push }));
}

/** Another holder of the refresh token renews: see {@link RENEW_ELSEWHERE_PATH}. */
async function onRenewElsewhere(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: PagesContext
): Promise<void> {
  const request = await controlRequest('renew_elsewhere', req, res, url, context);
  if (!request) return;
  const authorizer = context.state.authorizers.get(request.appId);
  context.state.refreshAuthorizerToken(request.appId, authorizer?.refreshToken ?? '');
  send(res, 200, JSON_TYPE, JSON.stringify({ errcode: 0, errmsg: 'ok' }));
}
