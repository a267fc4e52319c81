import type { WechatSealer } from './crypto';
import { describeError } from './http';
import type { WechatState } from './state';
import type { PushAnswer, PushFields, PushRecord, PushValue } from './types';

/**
 * Builds WeChat's pushes to the authorization event URL and sends them: payload XML (nested elements
 * allowed), sealed by the simulator's own crypto, in the `<xml><AppId/><Encrypt/></xml>` envelope with
 * `signature`, `timestamp`, `nonce`, `encrypt_type=aes` and `msg_signature` in the query string.
 *
 * @see ../../docs/wechat-protocol.md §4
 */

const PUSH_TIMEOUT_MS = 5000;
/** Deliveries of one push WeChat makes in all when it gets no `success` (§11.9). */
const PUSH_DELIVERIES = 3;
const ELEMENT_NAME = /^[A-Za-z_][\w.-]*$/;

const cdata = (value: string) => `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

function element(name: string, value: PushValue): string {
  if (!ELEMENT_NAME.test(name)) throw new TypeError(`invalid XML element name: ${name}`);
  if (Array.isArray(value)) return value.map((item) => element(name, item)).join('');
  let inner: string;
  if (typeof value === 'number') inner = String(value);
  else if (typeof value === 'string') inner = cdata(value);
  else {
    inner = Object.entries(value as PushFields)
      .map(([child, v]) => element(child, v))
      .join('');
  }
  return `<${name}>${inner}</${name}>`;
}

/** `<xml>…</xml>` with strings in CDATA and numbers bare, as WeChat's pushes are; objects nest. */
function payloadXml(fields: PushFields): string {
  return element('xml', fields);
}

/** Sends and records the pushes of one simulator; `close()` aborts what is in flight. */
export class PushSender {
  readonly records: PushRecord[] = [];
  readonly #state: WechatState;
  readonly #sealer: WechatSealer;
  readonly #abort = new AbortController();
  readonly #inflight = new Set<Promise<void>>();
  /** Deliveries WeChat makes again (§11.9), sent by the next {@link flush}: late, after newer pushes. */
  #again: (() => Promise<void>)[] = [];
  /** Pushes whose `success` is to be lost on its way back, so that WeChat delivers them again. */
  #answersToLose = 0;
  #closed = false;

  constructor(
    state: WechatState,
    sealer: WechatSealer,
    private readonly retryUnanswered = true
  ) {
    this.#state = state;
    this.#sealer = sealer;
  }

  /**
   * The service's answers to the next `n` delivered pushes are lost on the way back (a dropped connection):
   * WeChat saw no `success` and delivers each again, later (§11.9).
   */
  loseNextAnswers(n: number): void {
    this.#answersToLose += n;
  }

  /**
   * Records and (unless `deliver: false`, no eventUrl, or closing) sends one push; never throws for a
   * delivery problem. `AppId`, `CreateTime` and `InfoType` come first; `fields` may override their values.
   */
  async send(
    infoType: string,
    fields: PushFields,
    opts: { authorizerAppId?: string | undefined; deliver?: boolean } = {}
  ): Promise<PushAnswer> {
    const now = this.#state.clock();
    const appId = this.#state.platform.componentAppId;
    const xml = payloadXml({
      AppId: appId,
      CreateTime: Math.floor(now / 1000),
      InfoType: infoType,
      ...fields,
    });
    const record: PushRecord = { infoType, status: 0, body: '', at: now, xml };
    if (opts.authorizerAppId) record.authorizerAppId = opts.authorizerAppId;
    this.records.push(record);
    const eventUrl = this.#state.eventUrl;
    if (opts.deliver === false) {
      record.lost = true;
      record.error = 'not delivered (simulated lost push)';
      return { status: 0, body: '' };
    }
    if (!eventUrl || this.#closed) {
      record.error = eventUrl ? 'simulator is closing' : 'no eventUrl set';
      return { status: 0, body: '' };
    }
    await this.#deliver(xml, record, 1);
    return { status: record.status, body: record.body };
  }

  /**
   * One delivery of `xml`, freshly sealed, its answer kept in `record`; WeChat delivers it again (up to three
   * deliveries) when the answer is not `success` in time, or was lost on the way back.
   */
  async #deliver(xml: string, record: PushRecord, delivery: number): Promise<void> {
    const eventUrl = this.#state.eventUrl as string;
    const appId = this.#state.platform.componentAppId;
    const now = this.#state.clock();
    const sealed = this.#sealer.seal(xml, { timestamp: String(Math.floor(now / 1000)) });
    const query = new URLSearchParams({
      signature: sealed.signature,
      timestamp: sealed.timestamp,
      nonce: sealed.nonce,
      encrypt_type: 'aes',
      msg_signature: sealed.msgSignature,
    });
    const target = `${eventUrl}${eventUrl.includes('?') ? '&' : '?'}${query}`;
    const envelope = `<xml><AppId>${cdata(appId)}</AppId><Encrypt>${cdata(sealed.encrypt)}</Encrypt></xml>`;
    await this.track(
      (async () => {
        try {
          const response = await fetch(target, {
            method: 'POST',
            headers: { 'content-type': 'text/xml' },
            body: envelope,
            signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(PUSH_TIMEOUT_MS)]),
          });
          record.status = response.status;
          record.body = await response.text();
        } catch (error) {
          record.error = describeError(error);
        }
      })()
    );
    const answered = record.status === 200 && record.body === 'success';
    const answerLost = answered && this.#answersToLose > 0;
    if (answerLost) this.#answersToLose -= 1;
    if ((this.retryUnanswered && !answered) || answerLost) {
      if (delivery < PUSH_DELIVERIES && !this.#closed) {
        const again: PushRecord = { ...record, status: 0, body: '', delivery: delivery + 1 };
        delete again.error;
        this.#again.push(async () => {
          this.records.push(again);
          again.at = this.#state.clock();
          await this.#deliver(xml, again, delivery + 1);
        });
      }
    }
  }

  /** Registers work that {@link flush} and {@link close} wait for. */
  track(task: Promise<unknown>): Promise<void> {
    const settled = task.then(
      () => {},
      () => {}
    );
    this.#inflight.add(settled);
    return settled.finally(() => this.#inflight.delete(settled));
  }

  /** Waits for the pushes in flight; first sends the deliveries WeChat makes again (each once). */
  async flush(): Promise<void> {
    const again = this.#again;
    this.#again = [];
    for (const deliver of again) await this.track(deliver());
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  /** Aborts pushes in flight, refuses new ones, and waits for the tracked work to settle. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.flush();
  }
}
