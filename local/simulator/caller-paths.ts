import type { ApiName } from '../../shared/wechat/wire';

/**
 * The APIs callers of our tokens use (through the service's whitelisted egress), which the simulator serves
 * beside the component APIs: four with an authorizer's `access_token`, one with the component token.
 * Names are WeChat's openApi names (protocol §2.0).
 *
 * @see ../../docs/wechat-protocol.md §11.13 and §12
 */
export const CallerApiPath = {
  /** `GET ?access_token=…&type=jsapi|wx_card`: the JS-SDK / card ticket (protocol §12). */
  getTicket: '/cgi-bin/ticket/getticket',
  /** `GET ?access_token=…&openid=…[&lang=…]`: a follower's basic information (official account). */
  getUserInfo: '/cgi-bin/user/info',
  /** `POST ?access_token=…`, JSON `{touser, msgtype, <msgtype>: {…}}`: a customer-service message. */
  sendCustomMessage: '/cgi-bin/message/custom/send',
  /** `POST ?access_token=…`, JSON `{scene, page?, …}`: a mini program code, answered as image bytes. */
  getUnlimitedQRCode: '/wxa/getwxacodeunlimit',
  /**
   * `GET ?appid=…&js_code=…&grant_type=authorization_code&component_appid=…&component_access_token=…`:
   * a mini program login on the authorizer's behalf, with the component token.
   */
  thirdpartyCode2Session: '/sns/component/jscode2session',
} as const;

export type CallerApiName = keyof typeof CallerApiPath;
/** Every API the simulator serves: the component APIs (and getApiQuota) and the callers' APIs. */
export type SimulatedApi = ApiName | CallerApiName;

/** `getticket`'s `type`: the JS-SDK ticket (`jsapi_ticket`) or the card ticket. */
export type TicketType = 'jsapi' | 'wx_card';
export const TICKET_TYPES: readonly TicketType[] = ['jsapi', 'wx_card'];
