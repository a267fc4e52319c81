import { UnsealError, type WechatSealer } from './crypto';
import type { PassiveReply } from './types';
import { readXml, type XmlFields, XmlSyntaxError, type XmlValue } from './xml';

/**
 * How WeChat judges the service's answer to a message (protocol §13, §5.5): `success` or nothing means
 * no reply; anything else in a 2xx answer must be a passive reply (被动回复) sealed with the platform's
 * token and EncodingAESKey. Checked in WeChat's order, each failure named: the envelope
 * `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`, `MsgSignature` = sha1 of the sorted token,
 * `TimeStamp`, `Nonce` and `Encrypt`, the ciphertext, the receive id (the component appid), then the
 * reply itself: `ToUserName` the fan, `FromUserName` the account's original id, a numeric `CreateTime`,
 * and a `MsgType` with its elements.
 *
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html
 * @see ../../docs/wechat-protocol.md §5.5 and §13
 */

/** Who the reply must be between, and the keys to open it. */
export interface ReplyParties {
  readonly sealer: WechatSealer;
  readonly componentAppId: string;
  /** The fan: the reply's `ToUserName`. */
  readonly openid: string;
  /** The account's original id: the reply's `FromUserName`. */
  readonly userName: string;
}

/** The verdict on one answer. */
export type ReplyVerdict =
  | { answer: 'empty' }
  | { answer: 'reply'; reply: PassiveReply }
  | { answer: 'invalid_reply' | 'plaintext'; replyError: string };

/** The elements each reply type needs, as paths below `<xml>` (the passive reply page). */
const REPLY_ELEMENTS: Readonly<Record<string, readonly string[]>> = {
  text: ['Content'],
  image: ['Image.MediaId'],
  voice: ['Voice.MediaId'],
  video: ['Video.MediaId'],
  music: ['Music.ThumbMediaId'],
  news: ['ArticleCount', 'Articles.item'],
  transfer_customer_service: [],
};

const ENVELOPE = ['Encrypt', 'MsgSignature', 'TimeStamp', 'Nonce'] as const;

class ReplyRefused extends Error {
  constructor(
    readonly answer: 'invalid_reply' | 'plaintext',
    message: string
  ) {
    super(message);
  }
}

function refuse(why: string): never {
  throw new ReplyRefused('invalid_reply', why);
}

function read(xml: string, what: string): XmlFields {
  try {
    return readXml(xml);
  } catch (error) {
    if (error instanceof XmlSyntaxError) refuse(`${what} is not well-formed XML: ${error.message}`);
    throw error;
  }
}

function text(fields: XmlFields, name: string, what: string): string {
  const value = fields[name];
  if (value === undefined) refuse(`${what} lacks <${name}>`);
  if (typeof value !== 'string') refuse(`${what}'s <${name}> is not text`);
  return value;
}

function at(fields: XmlFields, path: string): XmlValue | undefined {
  let value: XmlValue | undefined = fields;
  for (const name of path.split('.')) {
    if (value === undefined || typeof value === 'string' || Array.isArray(value)) return undefined;
    value = value[name];
  }
  return value;
}

/** Opens and checks a 2xx answer's body. */
export function judgeAnswer(body: string, parties: ReplyParties): ReplyVerdict {
  if (body === '' || body === 'success') return { answer: 'empty' };
  try {
    return { answer: 'reply', reply: openReply(body, parties) };
  } catch (error) {
    if (!(error instanceof ReplyRefused)) throw error;
    return { answer: error.answer, replyError: error.message };
  }
}

function openReply(body: string, parties: ReplyParties): PassiveReply {
  const envelope = read(body, 'the answer');
  if (envelope.Encrypt === undefined) {
    const plain = envelope.MsgType !== undefined || envelope.Content !== undefined;
    throw new ReplyRefused(
      plain ? 'plaintext' : 'invalid_reply',
      plain
        ? 'an unencrypted reply: in safe mode (encrypt_type=aes) the reply must be <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>'
        : 'the answer is neither success, empty, nor <xml><Encrypt/>…</xml>'
    );
  }
  const [encrypt, msgSignature, timestamp, nonce] = ENVELOPE.map((name) =>
    text(envelope, name, 'the reply envelope')
  ) as [string, string, string, string];
  if (parties.sealer.signature(timestamp, nonce, encrypt) !== msgSignature.toLowerCase()) {
    refuse('MsgSignature is not sha1 of the sorted token, TimeStamp, Nonce and Encrypt');
  }
  let opened: { plaintext: string; receiveId: string };
  try {
    opened = parties.sealer.unseal(encrypt);
  } catch (error) {
    if (error instanceof UnsealError) refuse(`Encrypt does not open: ${error.message}`);
    throw error;
  }
  if (opened.receiveId !== parties.componentAppId) {
    refuse(`the receive id is "${opened.receiveId}", not the component appid`);
  }
  const reply = read(opened.plaintext, 'the decrypted reply');
  const what = 'the decrypted reply';
  if (text(reply, 'ToUserName', what) !== parties.openid) {
    refuse("the reply's ToUserName is not the fan's openid (the message's FromUserName)");
  }
  if (text(reply, 'FromUserName', what) !== parties.userName) {
    refuse("the reply's FromUserName is not the account's original id (the message's ToUserName)");
  }
  if (!/^\d+$/.test(text(reply, 'CreateTime', what))) refuse("the reply's CreateTime is no number");
  const msgType = text(reply, 'MsgType', what);
  const needs =
    REPLY_ELEMENTS[msgType] ?? refuse(`the reply's MsgType "${msgType}" is no passive reply type`);
  if (msgType === 'text') text(reply, 'Content', what);
  for (const path of needs) {
    const value = at(reply, path);
    if (value === undefined || value === '') {
      refuse(`a ${msgType} reply needs <${path.replaceAll('.', '><')}>`);
    }
  }
  return reply as PassiveReply;
}
