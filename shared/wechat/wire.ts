/**
 * Request and response bodies of the component APIs, with WeChat's own field names so the code can be
 * grepped against the docs. Domain code converts these to camelCase records at the service boundary.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getcomponentaccesstoken
 */

/** Every failing answer carries these; a success carries no `errcode` or `errcode: 0`. */
export interface WechatErrorBody {
  errcode?: number;
  errmsg?: string;
}

/** `api_start_push_ticket` (startPushTicket): restarts the ticket push. */
export interface StartPushTicketRequest {
  component_appid: string;
  component_secret: string;
}

/** `api_component_token` (getComponentAccessToken). */
export interface ComponentTokenRequest {
  component_appid: string;
  component_appsecret: string;
  component_verify_ticket: string;
}
export interface ComponentTokenResponse {
  component_access_token: string;
  expires_in: number;
}

/** `api_create_preauthcode` (getPreAuthCode, 预授权码). */
export interface PreAuthCodeRequest {
  component_appid: string;
}
export interface PreAuthCodeResponse {
  pre_auth_code: string;
  expires_in: number;
}

/** One permission set (权限集) the merchant granted. */
export interface FuncInfo {
  funcscope_category: { id: number; type?: number; name?: string; desc?: string };
  confirm_info?: { need_confirm: number; already_confirm: number; can_confirm: number };
}

/** `api_query_auth` (getAuthorizerRefreshToken): exchanges an authorization_code. */
export interface QueryAuthRequest {
  component_appid: string;
  authorization_code: string;
}
export interface QueryAuthResponse {
  authorization_info: {
    authorizer_appid: string;
    /** Absent (with `expires_in` and the refresh token) when the account has no API permission. */
    authorizer_access_token?: string;
    expires_in?: number;
    authorizer_refresh_token?: string;
    func_info?: FuncInfo[];
  };
}

/** `api_authorizer_token` (getAuthorizerAccessToken). */
export interface AuthorizerTokenRequest {
  component_appid: string;
  authorizer_appid: string;
  authorizer_refresh_token: string;
}
export interface AuthorizerTokenResponse {
  authorizer_access_token: string;
  expires_in: number;
  authorizer_refresh_token?: string;
}

/** `api_get_authorizer_list` (getAuthorizerList); `count` is at most 500. */
export interface AuthorizerListRequest {
  component_appid: string;
  offset: number;
  count: number;
}
export interface AuthorizerListResponse {
  total_count: number;
  list: { authorizer_appid: string; refresh_token: string; auth_time: number }[];
}

/** `api_get_authorizer_info` (getAuthorizerInfo). Only the fields we show are typed. */
export interface AuthorizerInfoRequest {
  component_appid: string;
  authorizer_appid: string;
}
export interface AuthorizerInfoResponse {
  authorizer_info: {
    nick_name?: string;
    head_img?: string;
    user_name?: string;
    principal_name?: string;
    service_type_info?: { id: number };
    verify_type_info?: { id: number };
    MiniProgramInfo?: unknown;
    [key: string]: unknown;
  };
  authorization_info: {
    authorizer_appid: string;
    authorizer_refresh_token?: string;
    func_info?: FuncInfo[];
  };
}

/**
 * `getApiQuota` (查询openApi调用quota): an API's daily limit and today's calls for the account whose
 * `access_token` (component_access_token or authorizer_access_token) asks.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 */
export interface ApiQuotaRequest {
  /** The API's path without the origin, starting with `/`, e.g. `/cgi-bin/component/api_component_token`. */
  cgi_path: string;
}
export interface ApiQuotaResponse {
  quota: { daily_limit: number; used: number; remain: number };
}

/**
 * `getticket` (获取 api_ticket): the `type` of ticket asked for: `jsapi` (the JS-SDK `jsapi_ticket` that signs
 * `wx.config`) or `wx_card` (the card `api_ticket`). Sent in the query with the authorizer's `access_token`.
 *
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html (appendix 1)
 */
export type TicketType = 'jsapi' | 'wx_card';
export const TICKET_TYPES: readonly TicketType[] = ['jsapi', 'wx_card'];
export interface TicketRequest {
  type: TicketType;
}
export interface TicketResponse {
  ticket: string;
  /** Seconds; 7200 (protocol §12). */
  expires_in: number;
}

/**
 * API paths under the base URL, named as WeChat names them: the legacy `api_*` names of the component APIs,
 * the English name where an API has no other.
 */
export const ApiPath = {
  api_start_push_ticket: '/cgi-bin/component/api_start_push_ticket',
  api_component_token: '/cgi-bin/component/api_component_token',
  api_create_preauthcode: '/cgi-bin/component/api_create_preauthcode',
  api_query_auth: '/cgi-bin/component/api_query_auth',
  api_authorizer_token: '/cgi-bin/component/api_authorizer_token',
  api_get_authorizer_list: '/cgi-bin/component/api_get_authorizer_list',
  api_get_authorizer_info: '/cgi-bin/component/api_get_authorizer_info',
  getApiQuota: '/cgi-bin/openapi/quota/get',
} as const;
export type ApiName = keyof typeof ApiPath;

/**
 * Paths of the APIs the service calls with an authorizer's token (not component APIs: the simulator serves
 * them among the callers' APIs), named as `ApiPath`'s are.
 */
export const AuthorizerApiPath = {
  getTicket: '/cgi-bin/ticket/getticket',
} as const;
export type AuthorizerApiName = keyof typeof AuthorizerApiPath;
