import { Courier } from './courier';
import type { WechatSealer } from './crypto';
import type { WechatState } from './state';
import type { PushAnswer, PushFields, PushRecord } from './types';
import { payloadXml } from './xml';

/**
 * Builds WeChat's pushes to the authorization event URL and sends them: payload XML (nested elements
 * allowed), sealed by the simulator's own crypto, in the `<xml><AppId/><Encrypt/></xml>` envelope with
 * `signature`, `timestamp`, `nonce`, `encrypt_type=aes` and `msg_signature` in the query string; a push is
 * answered only by `success` (§4.3), else delivered again (`courier.ts`).
 *
 * @see ../../docs/wechat-protocol.md §4
 */

/** Sends and records the pushes of one simulator; `close()` aborts what is in flight. */
export class PushSender {
  readonly #state: WechatState;
  readonly #courier: Courier<PushRecord>;

  constructor(state: WechatState, sealer: WechatSealer, retryUnanswered = true) {
    this.#state = state;
    this.#courier = new Courier<PushRecord>(state.clock, sealer, {
      answered: (record) => record.status === 200 && record.body === 'success',
      retryUnanswered,
    });
  }

  get records(): PushRecord[] {
    return this.#courier.records;
  }

  /**
   * The service's answers to the next `n` delivered pushes are lost on the way back (a dropped connection):
   * WeChat saw no `success` and delivers each again, later (§11.9).
   */
  loseNextAnswers(n: number): void {
    this.#courier.loseNextAnswers(n);
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
    if (!eventUrl || this.#courier.closed) {
      record.error = eventUrl ? 'simulator is closing' : 'no eventUrl set';
      return { status: 0, body: '' };
    }
    await this.#courier.deliver(
      { xml, url: () => this.#state.eventUrl, addressee: { element: 'AppId', value: appId } },
      record
    );
    return { status: record.status, body: record.body };
  }

  /** Registers work that {@link flush} and {@link close} wait for. */
  track(task: Promise<unknown>): Promise<void> {
    return this.#courier.track(task);
  }

  /** Waits for the pushes in flight; first sends the deliveries WeChat makes again (each once). */
  flush(): Promise<void> {
    return this.#courier.flush();
  }

  /** Aborts pushes in flight, refuses new ones, and waits for the tracked work to settle. */
  close(): Promise<void> {
    return this.#courier.close();
  }
}
