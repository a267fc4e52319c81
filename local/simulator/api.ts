import type {
  ApiName,
  AuthorizerInfoResponse,
  AuthorizerListResponse,
  AuthorizerTokenResponse,
  ComponentTokenResponse,
  FuncInfo,
  PreAuthCodeResponse,
  QueryAuthResponse,
} from '../../shared/wechat/wire';
import { answerApiQuota } from './api-quota';
import { fail } from './errcodes';
import { PER_AUTHORIZER_QUOTA } from './rules';
import type { WechatState } from './state';

/**
 * The component API handlers: request checks in WeChat's order (whitelist, method, component token, body,
 * appid, daily quota), then the API itself on {@link WechatState}, answered in WeChat's wire shapes.
 * `getApiQuota`, which takes either token and no appid, continues after the method in `api-quota.ts`;
 * the callers' APIs are in `caller-api.ts`.
 *
 * @see ../../docs/wechat-protocol.md §2
 */

const LIST_MAX_COUNT = 500;

/** One API request as the server parsed it. */
export interface ApiRequest {
  method: string;
  query: Record<string, string>;
  /** The body when it is a JSON object. */
  json: Record<string, unknown> | undefined;
  /** The body as text ('' when none; undefined when over 1 MB). */
  raw: string | undefined;
  /** The socket's remote address, normalized (`::ffff:127.0.0.2` → `127.0.0.2`): the whitelist's input. */
  clientIp: string;
}

/** The state the handlers act on, and the side effect one of them triggers. */
export interface ApiContext {
  state: WechatState;
  /** api_start_push_ticket was accepted: a ticket push follows the answer. */
  onPushTicketStarted(): void;
}

/** A string field; absent or not a string → 47001 data format error (empty strings pass through). */
function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value : fail(47001);
}

function integerField(body: Record<string, unknown>, name: string, min: number, max: number) {
  const value = body[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(47001);
  }
  return value;
}

const funcInfo = (ids: readonly number[]): FuncInfo[] =>
  ids.map((id) => ({ funcscope_category: { id } }));

/** The answer of one API call; throws `ApiFailure` for an errcode answer. */
export function answerApi(api: ApiName, request: ApiRequest, context: ApiContext): object {
  const { state } = context;
  state.checkClientIp(request.clientIp);
  if (request.method !== 'POST') fail(43002);
  if (api === 'getApiQuota') return answerApiQuota(request.query, request.json, state);
  if (api !== 'api_component_token' && api !== 'api_start_push_ticket') {
    state.checkComponentToken(request.query.component_access_token ?? request.query.access_token);
  }
  const body = request.json ?? fail(47001);
  const appId = body.component_appid;
  if (typeof appId !== 'string' || appId === '') fail(41002);
  if (appId !== state.platform.componentAppId) fail(40013);
  state.countCall(
    api,
    PER_AUTHORIZER_QUOTA.has(api) ? stringField(body, 'authorizer_appid') : undefined
  );
  switch (api) {
    case 'api_start_push_ticket':
      return startPushTicket(body, context);
    case 'api_component_token':
      return componentToken(body, state);
    case 'api_create_preauthcode':
      return {
        pre_auth_code: state.mintPreAuthCode(),
        expires_in: state.rules.codeTtlSeconds,
      } satisfies PreAuthCodeResponse;
    case 'api_query_auth':
      return queryAuth(body, state);
    case 'api_authorizer_token':
      return authorizerToken(body, state);
    case 'api_get_authorizer_list':
      return authorizerList(body, state);
    case 'api_get_authorizer_info':
      return authorizerInfo(body, state);
  }
}

/**
 * A `'malformed'` answer: HTTP 200 and `errcode: 0`, but what the API exists to return is missing
 * (§11.7: e.g. a list answer without `list`). Nothing was processed.
 */
export function malformedAnswer(api: ApiName, state: WechatState): object {
  const ok = { errcode: 0, errmsg: 'ok' };
  const expiresIn = { expires_in: state.rules.tokenTtlSeconds };
  switch (api) {
    case 'api_component_token':
    case 'api_authorizer_token':
      return { ...ok, ...expiresIn };
    case 'api_create_preauthcode':
      return { ...ok, expires_in: state.rules.codeTtlSeconds };
    case 'api_get_authorizer_list':
      return { ...ok, total_count: state.listed().length };
    default:
      return ok;
  }
}

function checkSecret(value: unknown, state: WechatState): void {
  if (typeof value !== 'string' || value === '') fail(41004);
  if (value !== state.platform.componentAppSecret) fail(40125);
}

function startPushTicket(body: Record<string, unknown>, context: ApiContext): object {
  checkSecret(body.component_secret, context.state);
  const wasStopped = context.state.pushesStopped;
  context.state.pushesStopped = false;
  context.onPushTicketStarted();
  return { errcode: 0, errmsg: wasStopped ? 'ok' : 'in a normal state' };
}

function componentToken(body: Record<string, unknown>, state: WechatState): ComponentTokenResponse {
  checkSecret(body.component_appsecret, state);
  state.checkTicket(stringField(body, 'component_verify_ticket'));
  return {
    component_access_token: state.issueComponentToken(),
    expires_in: state.rules.tokenTtlSeconds,
  };
}

/** Without API permission the answer is final and carries no token at all (§11.3, [S9][S105]). */
function queryAuth(body: Record<string, unknown>, state: WechatState): QueryAuthResponse {
  const exchange = state.exchangeAuthCode(stringField(body, 'authorization_code'));
  const tokens =
    exchange.accessToken === undefined
      ? {}
      : {
          authorizer_access_token: exchange.accessToken,
          expires_in: state.rules.tokenTtlSeconds,
          authorizer_refresh_token: exchange.refreshToken,
        };
  return {
    authorization_info: {
      authorizer_appid: exchange.authorizerAppId,
      ...tokens,
      func_info: funcInfo(exchange.funcIds),
    } as QueryAuthResponse['authorization_info'],
  };
}

function authorizerToken(
  body: Record<string, unknown>,
  state: WechatState
): AuthorizerTokenResponse {
  const refreshed = state.refreshAuthorizerToken(
    stringField(body, 'authorizer_appid'),
    stringField(body, 'authorizer_refresh_token')
  );
  return {
    authorizer_access_token: refreshed.accessToken,
    expires_in: state.rules.tokenTtlSeconds,
    authorizer_refresh_token: refreshed.refreshToken,
  };
}

function authorizerList(body: Record<string, unknown>, state: WechatState): AuthorizerListResponse {
  const offset = integerField(body, 'offset', 0, Number.MAX_SAFE_INTEGER);
  const count = integerField(body, 'count', 1, LIST_MAX_COUNT);
  if (offset > 0) state.takeListPageHook()?.();
  const listed = state.listed();
  return {
    total_count: listed.length,
    list: listed.slice(offset, offset + count).map(([appId, a]) => ({
      authorizer_appid: appId,
      refresh_token: a.listedWithoutRefreshToken ? '' : a.refreshToken,
      auth_time: a.authTime,
    })),
  };
}

/** `authorization_info` carries the CURRENT refresh token: how a lost answer is recovered (§2.7, §11.2). */
function authorizerInfo(body: Record<string, unknown>, state: WechatState): AuthorizerInfoResponse {
  const appId = stringField(body, 'authorizer_appid');
  const a = state.activeAuthorizer(appId);
  return {
    authorizer_info: {
      nick_name: a.nickName,
      head_img: `http://wx.qlogo.cn/mmopen/sim${appId}/0`,
      service_type_info: { id: 2 },
      verify_type_info: { id: 0 },
      user_name: a.userName,
      alias: '',
      qrcode_url: `http://mmbiz.qpic.cn/mmbiz_jpg/sim${appId}/0`,
      business_info: { open_pay: 0, open_shake: 0, open_scan: 0, open_card: 0, open_store: 0 },
      idc: 1,
      principal_name: '模拟科技有限公司',
      signature: 'Simulated account (WeChat simulator)',
      account_status: 1,
      basic_config: { is_phone_configured: true, is_email_configured: true },
    },
    authorization_info: {
      authorizer_appid: appId,
      authorizer_refresh_token: a.listedWithoutRefreshToken ? '' : a.refreshToken,
      func_info: funcInfo(a.funcIds),
    },
  };
}
