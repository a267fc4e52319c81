import { randomInt } from 'node:crypto';
import { DEFAULT_USER } from './callers';
import { Courier } from './courier';
import type { WechatSealer } from './crypto';
import {
  fromSystemAccount,
  kindsFor,
  MESSAGE_KINDS,
  type MessageDraw,
  opensServiceWindow,
} from './message-kinds';
import { judgeAnswer } from './passive-reply';
import type { WechatState } from './state';
import type { MessageFields, MessageRecord } from './types';
import { payloadXml } from './xml';

/**
 * WeChat's deliveries to the message URL (消息与事件接收URL): an authorized account's fans' messages and
 * the events about it, sealed with the platform's token and EncodingAESKey (receive id: the component
 * appid) like the pushes, in `<xml><ToUserName/><Encrypt/></xml>` with the fan's `openid` in the query
 * (official accounts), POSTed to the URL template with `$APPID$` replaced. A 2xx answer within 5 s counts
 * as answered and is judged as a passive reply (`passive-reply.ts`); anything else is delivered again
 * (`courier.ts`, protocol §11.9).
 *
 * @see ../../docs/wechat-protocol.md §13
 */

/** The placeholder WeChat replaces with the authorized account's appid. */
const APPID_PLACEHOLDER = '$APPID$';
/** The sender of WeChat's own events (code audit results). */
const SYSTEM_USER = 'wechat-system';
/** The fans `sendMix` picks from, per account. */
const MIX_FANS = 5;

/** Sends and records one simulator's messages; `close()` aborts what is in flight. */
export class MessageSender {
  readonly #state: WechatState;
  readonly #courier: Courier<MessageRecord>;
  #lastMsgId = 1_000_000_000_000_000 + randomInt(0, 2 ** 40) * 1000;

  constructor(state: WechatState, sealer: WechatSealer, retryUnanswered = true) {
    this.#state = state;
    const componentAppId = state.platform.componentAppId;
    this.#courier = new Courier<MessageRecord>(state.clock, sealer, {
      answered: (record) => record.status >= 200 && record.status < 300,
      onAnswer: (record) => {
        delete record.reply;
        delete record.replyError;
        if (record.status < 200 || record.status >= 300) {
          record.answer = record.status === 0 ? 'no_answer' : 'http_error';
          return;
        }
        const { openid, userName } = record;
        Object.assign(
          record,
          judgeAnswer(record.body, { sealer, componentAppId, openid, userName })
        );
      },
      retryUnanswered,
    });
  }

  get records(): MessageRecord[] {
    return this.#courier.records;
  }

  /** See `WechatSimulator.loseNextMessageAnswers`. */
  loseNextAnswers(n: number): void {
    this.#courier.loseNextAnswers(n);
  }

  /** A `MsgId` no other message of this simulator has: a 64-bit-looking number, still a safe integer. */
  nextMsgId(): number {
    this.#lastMsgId += 1;
    return this.#lastMsgId;
  }

  /**
   * Records and (unless no message URL is set, or closing) delivers one message; never throws for a
   * delivery problem. See `WechatSimulator.sendMessage`.
   *
   * @throws Error when the account has no active authorization.
   */
  async send(
    authorizerAppId: string,
    fields: MessageFields,
    options: { user?: string; retry?: boolean } = {}
  ): Promise<MessageRecord> {
    const account = this.#state.authorizers.get(authorizerAppId);
    if (!account?.active) throw new Error(`no active authorization for ${authorizerAppId}`);
    const now = this.#state.clock();
    const openid = this.#sender(authorizerAppId, fields, options.user ?? DEFAULT_USER);
    const createTime = Math.floor(now / 1000);
    const generated = fields.MsgType !== 'event' && fields.MsgId === undefined;
    const payload: MessageFields = {
      ToUserName: account.userName,
      FromUserName: openid,
      CreateTime: createTime,
      ...fields,
      ...(generated ? { MsgId: this.nextMsgId() } : {}),
    };
    const record: MessageRecord = {
      authorizerAppId,
      userName: account.userName,
      openid,
      msgType: fields.MsgType,
      createTime,
      xml: payloadXml(payload),
      status: 0,
      body: '',
      at: now,
      answer: 'unsent',
    };
    if (typeof payload.Event === 'string') record.event = payload.Event;
    const msgId = payload.MsgId ?? payload.MsgID;
    if (typeof msgId === 'number' || typeof msgId === 'string') record.msgId = msgId;
    this.records.push(record);
    if (!this.#state.messageUrl || this.#courier.closed) {
      record.error = this.#state.messageUrl ? 'simulator is closing' : 'no messageUrl set';
      return record;
    }
    const official = account.accountType === 'official_account';
    const parcel = {
      xml: record.xml,
      url: () => this.#state.messageUrl?.replaceAll(APPID_PLACEHOLDER, authorizerAppId),
      addressee: { element: 'ToUserName', value: account.userName } as const,
      ...(official ? { query: { openid } } : {}),
    };
    await this.#courier.deliver(parcel, record, options.retry ?? true);
    return record;
  }

  /** The payload's `FromUserName`; a fan's own act opens the customer-service window. */
  #sender(authorizerAppId: string, fields: MessageFields, user: string): string {
    if (typeof fields.FromUserName === 'string') return fields.FromUserName;
    const { callers } = this.#state;
    if (fromSystemAccount(fields)) return callers.openId(authorizerAppId, SYSTEM_USER);
    return opensServiceWindow(fields)
      ? callers.messageFrom(authorizerAppId, user)
      : callers.openId(authorizerAppId, user);
  }

  /** See `WechatSimulator.sendMessages`. */
  async sendMix(count: number, random: () => number = Math.random): Promise<MessageRecord[]> {
    const accounts = this.#state.listed();
    const sent: MessageRecord[] = [];
    if (accounts.length === 0) return sent;
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    for (let i = 0; i < count; i++) {
      const [appId, account] = pick(accounts);
      const draw: MessageDraw = {
        nextMsgId: () => this.nextMsgId(),
        random,
        nowSeconds: Math.floor(this.#state.clock() / 1000),
      };
      const fields = MESSAGE_KINDS[pick(kindsFor(account.accountType))].build(draw);
      const user = `fan-${1 + Math.floor(random() * MIX_FANS)}`;
      sent.push(await this.send(appId, fields, { user }));
    }
    return sent;
  }

  /** Waits for the messages in flight; first sends the deliveries WeChat makes again (each once). */
  flush(): Promise<void> {
    return this.#courier.flush();
  }

  /** Aborts messages in flight, refuses new ones, and waits for the tracked work to settle. */
  close(): Promise<void> {
    return this.#courier.close();
  }
}
