import type { WechatMessage } from './read-wechat-message';

/**
 * WeChat's release check (全网发布接入检测): before a platform goes live to every account, WeChat authorizes
 * its own test accounts and sends them messages; the platform must answer as below. Only these two
 * accounts get automatic replies; real accounts never do.
 *
 * @see ../../docs/wechat-protocol.md §13
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/operation/thirdparty/releases_instructions.html
 */
export const RELEASE_CHECK_ACCOUNTS: Readonly<Record<string, string>> = {
  /** The test official account and its original id. */
  wx570bc396a51b8ff8: 'gh_3c884a361561',
  /** The test mini program and its original id. */
  wxd101a85aa106f53e: 'gh_8dad206e9538',
};

/** The text that asks for the text reply `TESTCOMPONENT_MSG_TYPE_TEXT_callback`. */
export const RELEASE_CHECK_TEXT = 'TESTCOMPONENT_MSG_TYPE_TEXT';
const QUERY_AUTH_CODE = 'QUERY_AUTH_CODE:';

/** What the release check expects for one message. */
export type ReleaseCheckAnswer =
  /** A passive text reply. */
  | { kind: 'text'; content: string }
  /**
   * An empty answer now; then the code exchanged (`api_query_auth`) and `<code>_from_api` sent to the fan
   * through the customer-service API, within 10 s.
   */
  | { kind: 'query_auth_code'; queryAuthCode: string; toUser: string };

export const isReleaseCheckAccount = (authorizerAppId: string) =>
  Object.hasOwn(RELEASE_CHECK_ACCOUNTS, authorizerAppId);

/**
 * The answer the release check expects for `message` to `authorizerAppId`, or undefined: for any other
 * account, and for a test account's message the check does not ask about.
 */
export function releaseCheckAnswer(
  authorizerAppId: string,
  message: WechatMessage
): ReleaseCheckAnswer | undefined {
  if (!isReleaseCheckAccount(authorizerAppId)) return undefined;
  if (message.MsgType === 'event' && message.Event) {
    return { kind: 'text', content: `${message.Event}from_callback` };
  }
  if (message.MsgType !== 'text' || message.Content === undefined) return undefined;
  if (message.Content === RELEASE_CHECK_TEXT) {
    return { kind: 'text', content: `${RELEASE_CHECK_TEXT}_callback` };
  }
  if (message.Content.startsWith(QUERY_AUTH_CODE)) {
    const queryAuthCode = message.Content.slice(QUERY_AUTH_CODE.length);
    if (queryAuthCode)
      return { kind: 'query_auth_code', queryAuthCode, toUser: message.FromUserName };
  }
  return undefined;
}

/** The customer-service message the release check waits for after `QUERY_AUTH_CODE:<code>`. */
export const releaseCheckApiReply = (queryAuthCode: string) => `${queryAuthCode}_from_api`;
