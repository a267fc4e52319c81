import { MalformedMessageError } from '../errors';
import type { WechatMessageFields } from '../events/wechat-message-event';
import { parseXmlTree } from '../wechat/callback-xml';

/**
 * The largest message body accepted. WeChat's pushes are a few KB at most (a text is limited to 2 048
 * characters, about 6 KB of UTF-8, a third more once encrypted and base64-encoded); anything near this is
 * not WeChat.
 */
export const MAX_MESSAGE_BODY_BYTES = 64 * 1024;

/** The encrypted envelope WeChat POSTs to the message-and-event URL. */
export interface MessageEnvelope {
  /** The account's original id (`gh_…`), as WeChat puts it outside the encryption. */
  toUserName?: string;
  encrypt: string;
}

/** A decrypted push with the fields every message and event has. */
export type WechatMessage = WechatMessageFields & {
  ToUserName: string;
  FromUserName: string;
  CreateTime: string;
  MsgType: string;
  Event?: string;
  MsgId?: string;
  Content?: string;
};

const MSG_TYPE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const SECONDS = /^\d{1,12}$/;

/** Reads `<xml><ToUserName/><Encrypt/></xml>`. */
export function parseMessageEnvelope(xml: string): MessageEnvelope {
  const fields = parseXmlTree(xml, 'message body', MAX_MESSAGE_BODY_BYTES);
  const { Encrypt: encrypt, ToUserName: toUserName } = fields;
  if (typeof encrypt !== 'string' || !encrypt) {
    throw new MalformedMessageError('message body has no Encrypt element');
  }
  if (toUserName !== undefined && typeof toUserName !== 'string') {
    throw new MalformedMessageError('message body ToUserName must hold text');
  }
  return { encrypt, ...(toUserName ? { toUserName } : {}) };
}

function text(fields: WechatMessageFields, name: string, required: boolean): string | undefined {
  const value = fields[name];
  if (value === undefined || value === '') {
    if (required) throw new MalformedMessageError(`message has no ${name}`);
    return undefined;
  }
  if (typeof value !== 'string') throw new MalformedMessageError(`message ${name} must hold text`);
  return value;
}

/**
 * Turns a decrypted push into a message: `ToUserName`, `FromUserName`, `CreateTime` (seconds), `MsgType`
 * are required, `Event` too when `MsgType` is `event`; every other element is kept as WeChat sent it.
 *
 * @throws MalformedMessageError for XML the parser refuses or a missing or malformed required field.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_event_pushes.html
 */
export function readWechatMessage(xml: string): WechatMessage {
  const fields = parseXmlTree(xml, 'decrypted message', MAX_MESSAGE_BODY_BYTES);
  text(fields, 'ToUserName', true);
  text(fields, 'FromUserName', true);
  const createTime = text(fields, 'CreateTime', true) as string;
  if (!SECONDS.test(createTime)) {
    throw new MalformedMessageError('message CreateTime must be a number of seconds');
  }
  const msgType = text(fields, 'MsgType', true) as string;
  if (!MSG_TYPE.test(msgType)) throw new MalformedMessageError('message MsgType is malformed');
  const event = text(fields, 'Event', msgType === 'event');
  if (event !== undefined && !MSG_TYPE.test(event)) {
    throw new MalformedMessageError('message Event is malformed');
  }
  text(fields, 'MsgId', false);
  return fields as WechatMessage;
}
