import type { MsgCrypto } from '../crypto/msg-crypto';

const cdata = (value: string) => `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

/**
 * A passive text reply (被动回复) to a fan's push, encrypted like WeChat's own pushes (the platform's token
 * and EncodingAESKey, receive id = the component appid): the reply `<xml>` with `ToUserName` = the fan,
 * `FromUserName` = the account's original id, inside the `Encrypt`/`MsgSignature`/`TimeStamp`/`Nonce`
 * envelope.
 *
 * @see ../../docs/wechat-protocol.md §5.5
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html
 */
export function encryptedTextReply(
  crypto: MsgCrypto,
  reply: { toUser: string; fromUser: string; content: string; createTime: number },
  options: Parameters<MsgCrypto['encrypt']>[1] = {}
): string {
  const plaintext =
    `<xml><ToUserName>${cdata(reply.toUser)}</ToUserName>` +
    `<FromUserName>${cdata(reply.fromUser)}</FromUserName>` +
    `<CreateTime>${Math.floor(reply.createTime / 1000)}</CreateTime>` +
    `<MsgType><![CDATA[text]]></MsgType><Content>${cdata(reply.content)}</Content></xml>`;
  const sealed = crypto.encrypt(plaintext, options);
  return (
    `<xml><Encrypt>${cdata(sealed.encrypt)}</Encrypt>` +
    `<MsgSignature>${cdata(sealed.msgSignature)}</MsgSignature>` +
    `<TimeStamp>${sealed.timestamp}</TimeStamp><Nonce>${cdata(sealed.nonce)}</Nonce></xml>`
  );
}
