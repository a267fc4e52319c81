import type { ApiRequest } from './api';
import { type CallerApiName, TICKET_TYPES, type TicketType } from './caller-paths';
import { JS_TICKET_TTL_SECONDS } from './callers';
import { fail } from './errcodes';
import { type Answer, BinaryAnswer } from './http';
import type { WechatState } from './state';

/**
 * The APIs callers of our tokens use, served beside the component APIs (protocol §11.13, §12). Checks in
 * this order: the whitelist (source address and egress IP, before anything else, as for every API), the
 * method (43001 / 43002), the token, a POST's JSON body (47001), the daily quota (45009; a bad request
 * past this point still spends it, as getApiQuota's does), then the API's own parameters.
 *
 * The token: the authorizer APIs take the authorizer's `access_token` and judge it as getApiQuota does
 * (`WechatState.checkAccessToken`: 41001 missing, 40014 malformed, 42001 expired, 40001 superseded past
 * the grace, revoked or unknown), and answer 48001 to the component token; `jscode2session` takes the
 * `component_access_token` as the component APIs do.
 *
 * Not modelled: which permission set (权限集) each API needs (61007/48001 when not granted: the mapping
 * from API to set is not published for most of them), per-minute limits (45011), `check_path`.
 *
 * @see ../../docs/wechat-protocol.md §11.13 and §12
 */

type Handler = (request: ApiRequest, state: WechatState) => Answer;

const OK = { errcode: 0, errmsg: 'ok' } as const;

/** The message types `/cgi-bin/message/custom/send` knows; anything else is 40008. */
const MSG_TYPES = new Set([
  'text',
  'image',
  'voice',
  'video',
  'music',
  'news',
  'mpnews',
  'mpnewsarticle',
  'msgmenu',
  'wxcard',
  'miniprogrampage',
]);

/** getUnlimitedQRCode's `scene`: at most 32 of these characters (its page). */
const SCENE_CHARS = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]*$/;
const SCENE_MAX = 32;
const ENV_VERSIONS = new Set(['release', 'trial', 'develop']);

/** The answer of one caller API call; throws `ApiFailure` for an errcode answer. */
export function answerCallerApi(
  api: CallerApiName,
  request: ApiRequest,
  state: WechatState
): Answer {
  state.checkClientIp(request.clientIp);
  const { method, handle } = CALLER_APIS[api];
  if (request.method !== method) fail(method === 'GET' ? 43001 : 43002);
  return handle(request, state);
}

/**
 * A `'malformed'` answer: HTTP 200, no errcode (or 0), but what the API exists to return is missing: no
 * ticket, no openid, an image of a few bytes. Nothing was processed.
 */
export function malformedCallerAnswer(api: CallerApiName): Answer {
  switch (api) {
    case 'getTicket':
      return { ...OK, expires_in: JS_TICKET_TTL_SECONDS };
    case 'getUnlimitedQRCode':
      return new BinaryAnswer('image/jpeg', Buffer.from([0xff, 0xd8]));
    default:
      return OK;
  }
}

/** The JSON body of a POST: 44002 when empty, 47001 when not a JSON object (or over 1 MB). */
function jsonBody(request: ApiRequest): Record<string, unknown> {
  if (request.raw === '') fail(44002);
  return request.json ?? fail(47001);
}

const CALLER_APIS: Readonly<Record<CallerApiName, { method: 'GET' | 'POST'; handle: Handler }>> = {
  getTicket: { method: 'GET', handle: getTicket },
  getUserInfo: { method: 'GET', handle: getUserInfo },
  sendCustomMessage: { method: 'POST', handle: sendCustomMessage },
  getUnlimitedQRCode: { method: 'POST', handle: getUnlimitedQRCode },
  thirdpartyCode2Session: { method: 'GET', handle: code2Session },
};

/**
 * `GET /cgi-bin/ticket/getticket?access_token=…&type=jsapi|wx_card` (protocol §12): 40097 for another
 * `type`; each call issues a new ticket (the previous one is superseded) and counts against the
 * authorizer's quota of that type (`dailyQuota.getTicket` per type).
 */
function getTicket(request: ApiRequest, state: WechatState): Answer {
  const appId = state.checkAuthorizerToken(request.query.access_token);
  const type = request.query.type as TicketType;
  if (!TICKET_TYPES.includes(type)) fail(40097, 'type must be jsapi or wx_card');
  state.countCall('getTicket', appId, type);
  return {
    ...OK,
    ticket: state.callers.issueTicket(appId, type),
    expires_in: JS_TICKET_TTL_SECONDS,
  };
}

/**
 * `GET /cgi-bin/user/info?access_token=…&openid=…` (official account, 获取用户基本信息): 41009 without
 * `openid`, 40003 for one that does not follow this account (openids are per account). Answers the
 * fields WeChat still returns since it stopped sending nickname and avatar.
 */
function getUserInfo(request: ApiRequest, state: WechatState): Answer {
  const appId = state.checkAuthorizerToken(request.query.access_token);
  state.countCall('getUserInfo', appId);
  const openid = request.query.openid || fail(41009);
  const follower = state.callers.follower(appId, openid);
  return {
    subscribe: 1,
    openid,
    language: 'zh_CN',
    subscribe_time: Math.floor(follower.since / 1000),
    remark: '',
    groupid: 0,
    tagid_list: [],
    subscribe_scene: 'ADD_SCENE_QR_CODE',
    qr_scene: 0,
    qr_scene_str: '',
  };
}

/**
 * `POST /cgi-bin/message/custom/send?access_token=…` (客服消息): `touser` a follower of this account
 * (40003), `msgtype` a known type (40008) with its object (47001; `text.content` non-empty, 44004), and
 * the follower must have messaged the account within `customerServiceWindowMs` (45015, 48 hours). An
 * accepted message is kept in `WechatState.customMessages` (the release check reads it, protocol §13).
 */
function sendCustomMessage(request: ApiRequest, state: WechatState): Answer {
  const appId = state.checkAuthorizerToken(request.query.access_token);
  const body = jsonBody(request);
  state.countCall('sendCustomMessage', appId);
  const { touser, msgtype } = body;
  if (typeof touser !== 'string' || touser === '') fail(40003);
  state.callers.follower(appId, touser);
  if (typeof msgtype !== 'string' || !MSG_TYPES.has(msgtype)) fail(40008);
  const payload = body[msgtype];
  if (!payload || typeof payload !== 'object') fail(47001, `${msgtype} object missing`);
  const { content } = payload as Record<string, unknown>;
  if (msgtype === 'text' && (typeof content !== 'string' || content === '')) fail(44004);
  state.callers.checkMessageWindow(appId, touser);
  state.customMessages.push({
    authorizerAppId: appId,
    touser,
    msgtype,
    ...(msgtype === 'text' ? { content: content as string } : {}),
    payload,
    accessToken: request.query.access_token as string,
    at: state.clock(),
  });
  return OK;
}

/**
 * `POST /wxa/getwxacodeunlimit?access_token=…` (getUnlimitedQRCode): answers the code as `image/jpeg`
 * bytes, errors as JSON. Errcodes from its page and the answers quoted on the developer community:
 * 47001 a body that is not JSON; 40169 `invalid length for scene, or the data is not json string` for a
 * missing, empty or over-32-character `scene`; 40129 `invalid scene` for a character outside
 * `0-9A-Za-z!#$&'()*+,/:;=?@-._~`; 41030 `invalid page` for a `page` that starts with `/` or carries a
 * query; 40097 for another `env_version` than release, trial or develop.
 *
 * @see https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getUnlimitedQRCode.html
 */
function getUnlimitedQRCode(request: ApiRequest, state: WechatState): Answer {
  const appId = state.checkAuthorizerToken(request.query.access_token);
  const body = jsonBody(request);
  state.countCall('getUnlimitedQRCode', appId);
  const { scene, page, env_version: env } = body;
  if (typeof scene !== 'string' || scene === '' || scene.length > SCENE_MAX) fail(40169);
  if (!SCENE_CHARS.test(scene)) fail(40129);
  if (page !== undefined) {
    if (typeof page !== 'string' || page.startsWith('/') || page.includes('?')) fail(41030);
  }
  if (env !== undefined && (typeof env !== 'string' || !ENV_VERSIONS.has(env))) fail(40097);
  const label = `wxacode appid=${appId} scene=${scene} page=${typeof page === 'string' ? page : ''}`;
  return new BinaryAnswer('image/jpeg', tinyJpeg(label));
}

/**
 * `GET /sns/component/jscode2session?appid=…&js_code=…&grant_type=authorization_code&component_appid=…
 * &component_access_token=…` (thirdpartyCode2Session): the component token (41001, 61014, 42001, 40001),
 * `component_appid` (41002, 40013), `appid` (41002; 61003 when the mini program has not authorized the
 * platform, as its page says), `grant_type` (40002), `js_code` (41008; 40029 unknown, expired or another
 * mini program's, 40163 reused). Answers `{openid, session_key}` (no unionid: no open account is bound).
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/OpenApiDoc/miniprogram-management/others/thirdpartyCode2Session.html
 */
function code2Session(request: ApiRequest, state: WechatState): Answer {
  const { query } = request;
  state.checkComponentToken(query.component_access_token);
  const componentAppId = query.component_appid || fail(41002);
  if (componentAppId !== state.platform.componentAppId) fail(40013);
  state.countCall('thirdpartyCode2Session');
  const appId = query.appid || fail(41002);
  state.activeAuthorizer(appId);
  if (query.grant_type !== 'authorization_code') fail(40002);
  const code = query.js_code || fail(41008);
  const session = state.callers.exchangeLoginCode(appId, code);
  return { openid: session.openid, session_key: session.sessionKey };
}

// --- the image ---------------------------------------------------------------------------------------

const segment = (marker: number, payload: readonly number[] | Buffer) =>
  Buffer.concat([
    Buffer.from([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]),
    Buffer.from(payload),
  ]);

/**
 * A valid baseline JPEG of 8×8 grey pixels, with `label` in a comment (COM) segment so a test can tell
 * which request it answers: one quantization table, one Huffman table each for DC and AC with a single
 * one-bit code (DC difference 0, end of block), and one block coded as those two bits.
 */
function tinyJpeg(label: string): Buffer {
  const comment = Buffer.from(label.slice(0, 1000), 'utf8');
  const oneCode = (tableClass: number) => [tableClass << 4, 1, ...new Array(15).fill(0), 0];
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]), // SOI
    segment(0xfe, comment), // COM
    segment(0xdb, [0, ...new Array(64).fill(1)]), // DQT: table 0, all ones
    segment(0xc0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]), // SOF0: 8 bits, 8×8, one component
    segment(0xc4, oneCode(0)), // DHT: DC table 0
    segment(0xc4, oneCode(1)), // DHT: AC table 0
    segment(0xda, [1, 1, 0, 0, 63, 0]), // SOS: one component, tables 0/0, spectral 0–63
    Buffer.from([0x3f]), // DC "0" (difference 0), AC "0" (EOB), padded with ones
    Buffer.from([0xff, 0xd9]), // EOI
  ]);
}
