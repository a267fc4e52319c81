import type { Clock } from '../../shared/clock';
import type { WechatSealer } from './crypto';
import { describeError } from './http';
import { cdata } from './xml';

/**
 * How WeChat delivers to the platform's URLs, whatever it sends (the authorization event URL's pushes, the
 * message URL's messages and events): the payload sealed afresh for each delivery, POSTed in a
 * `<xml><AppId|ToUserName/><Encrypt/></xml>` envelope with `signature`, `timestamp`, `nonce`,
 * `encrypt_type=aes` and `msg_signature` in the query, 5 s to answer, and up to three deliveries in all
 * when the answer does not count as one (§11.9). The deliveries WeChat makes again wait for the next
 * {@link Courier.flush}: they come late, after newer ones.
 *
 * @see ../../docs/wechat-protocol.md §4.1, §11.9 and §13
 */

/** WeChat waits this long for an answer, then closes the connection. */
const ANSWER_TIMEOUT_MS = 5000;
/** Deliveries of one payload WeChat makes in all when it gets no answer (§11.9). */
const DELIVERIES = 3;

/** What every delivery record keeps of the service's answer. */
export interface DeliveryRecord {
  /** HTTP status of the service's answer; 0 when not sent or the request failed. */
  status: number;
  /** The service's answer body ('' when none). */
  body: string;
  /** Clock time of the delivery. */
  at: number;
  /** Why nothing (or no answer) came back: connection refused, timeout… */
  error?: string;
  /** Which delivery of the payload this was (WeChat's retries: 2, 3); absent for the first. */
  delivery?: number;
}

/** One payload and where it goes. */
export interface Parcel {
  /** The decrypted payload, sealed afresh for each delivery. */
  readonly xml: string;
  /**
   * Where it goes at the time of each delivery (the console's setting may change between deliveries),
   * without the signature query (it may have a query of its own); undefined when none is set.
   */
  url(): string | undefined;
  /** The envelope's element beside `Encrypt`: `AppId` for system pushes, `ToUserName` for messages. */
  readonly addressee: { readonly element: 'AppId' | 'ToUserName'; readonly value: string };
  /** Query parameters WeChat puts before the signatures (a message's `openid`). */
  readonly query?: Readonly<Record<string, string>>;
}

/** How one kind of delivery is judged. */
export interface CourierRules<R extends DeliveryRecord> {
  /** Whether WeChat counts the answer as given (else it delivers again, when retries are on). */
  answered(record: R): boolean;
  /** Reads the answer into the record after each delivery, answered or not. */
  onAnswer?(record: R): void;
  /** Whether unanswered deliveries are made again (`SimulatorRules.retryUnansweredPushes`). */
  readonly retryUnanswered: boolean;
}

/** Delivers one kind of payload for one simulator, keeps the records; `close()` aborts what is in flight. */
export class Courier<R extends DeliveryRecord> {
  readonly records: R[] = [];
  readonly #clock: Clock;
  readonly #sealer: WechatSealer;
  readonly #rules: CourierRules<R>;
  readonly #abort = new AbortController();
  readonly #inflight = new Set<Promise<void>>();
  /** Deliveries WeChat makes again (§11.9), sent by the next {@link flush}: late, after newer ones. */
  #again: (() => Promise<void>)[] = [];
  /** Answers to be lost on their way back, so that WeChat delivers again. */
  #answersToLose = 0;
  #closed = false;

  constructor(clock: Clock, sealer: WechatSealer, rules: CourierRules<R>) {
    this.#clock = clock;
    this.#sealer = sealer;
    this.#rules = rules;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The service's answers to the next `n` deliveries are lost on the way back (a dropped connection):
   * WeChat saw no answer and delivers each again, later (§11.9).
   */
  loseNextAnswers(n: number): void {
    this.#answersToLose += n;
  }

  /**
   * One delivery of `parcel`, its answer kept in `record` (already in {@link records}); WeChat delivers it
   * again (up to three deliveries) when the answer does not count or was lost, unless `retry` is false.
   */
  async deliver(parcel: Parcel, record: R, retry = true, delivery = 1): Promise<void> {
    const url = parcel.url();
    if (url === undefined) record.error = 'no URL set';
    else await this.track(this.#post(this.#sealed(parcel, url), record));
    this.#rules.onAnswer?.(record);
    const answered = this.#rules.answered(record);
    const answerLost = answered && this.#answersToLose > 0;
    if (answerLost) this.#answersToLose -= 1;
    const again = (retry && this.#rules.retryUnanswered && !answered) || answerLost;
    if (again && delivery < DELIVERIES && !this.#closed) this.#queueAgain(parcel, record, delivery);
  }

  /** The request of one delivery: the payload freshly sealed, the envelope and the signed query. */
  #sealed(parcel: Parcel, url: string): { target: string; envelope: string } {
    const sealed = this.#sealer.seal(parcel.xml, {
      timestamp: String(Math.floor(this.#clock() / 1000)),
    });
    const query = new URLSearchParams({
      signature: sealed.signature,
      timestamp: sealed.timestamp,
      nonce: sealed.nonce,
      ...parcel.query,
      encrypt_type: 'aes',
      msg_signature: sealed.msgSignature,
    });
    const { element, value } = parcel.addressee;
    return {
      target: `${url}${url.includes('?') ? '&' : '?'}${query}`,
      envelope: `<xml><${element}>${cdata(value)}</${element}><Encrypt>${cdata(sealed.encrypt)}</Encrypt></xml>`,
    };
  }

  async #post(request: { target: string; envelope: string }, record: R): Promise<void> {
    const { target, envelope } = request;
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: envelope,
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(ANSWER_TIMEOUT_MS)]),
      });
      const body = await response.text();
      record.status = response.status;
      record.body = body;
    } catch (error) {
      record.error = describeError(error);
    }
  }

  #queueAgain(parcel: Parcel, record: R, delivery: number): void {
    const again: R = { ...record, status: 0, body: '', delivery: delivery + 1 };
    delete again.error;
    this.#again.push(async () => {
      this.records.push(again);
      again.at = this.#clock();
      await this.deliver(parcel, again, true, delivery + 1);
    });
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

  /** Waits for the deliveries in flight; first sends the ones WeChat makes again (each once). */
  async flush(): Promise<void> {
    const again = this.#again;
    this.#again = [];
    for (const deliver of again) await this.track(deliver());
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  /** Aborts deliveries in flight, refuses new ones, and waits for the tracked work to settle. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.flush();
  }
}
