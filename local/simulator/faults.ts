import type { ServerResponse } from 'node:http';
import type { SimulatedApi } from './caller-paths';
import { type Answer, HTML_TYPE, JSON_TYPE, page, send, sendAnswer, TEXT_TYPE } from './http';
import type { Fault } from './types';

/**
 * Injected faults: a queue per API (and '*'), and how each fault that replaces or withholds an answer
 * plays out on the wire.
 */

/** Faults after which WeChat has acted: the call is processed, then its answer is lost or replaced. */
export const PROCESSED_FAULTS: ReadonlySet<Fault> = new Set<Fault>([
  'lost',
  'lost_timeout',
  'busy_after_processing',
]);

/** Faults queued by `failNext`, per API and for any API ('*'), each for a number of calls. */
export class FaultQueue {
  readonly #queues = new Map<SimulatedApi | '*', { fault: Fault; remaining: number }[]>();

  add(api: SimulatedApi | '*', fault: Fault, times: number): void {
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError('times must be a positive integer');
    }
    const queue = this.#queues.get(api) ?? [];
    queue.push({ fault, remaining: times });
    this.#queues.set(api, queue);
  }

  /** The fault for this call of `api`, if any (the API's own queue first, then '*'). */
  take(api: SimulatedApi): Fault | undefined {
    for (const key of [api, '*'] as const) {
      const queue = this.#queues.get(key);
      const head = queue?.[0];
      if (!queue || !head) continue;
      if (--head.remaining <= 0) queue.shift();
      return head.fault;
    }
    return undefined;
  }

  /** Drops the queued faults of `api` ('*' included), or all of them. */
  clear(api?: SimulatedApi | '*'): void {
    if (api === undefined) this.#queues.clear();
    else this.#queues.delete(api);
  }
}

/** Sockets held open by `'timeout'` / `'lost_timeout'`, dropped on close. */
export class HeldResponses {
  readonly #held = new Set<ServerResponse>();

  hold(res: ServerResponse): void {
    this.#held.add(res);
    res.on('close', () => this.#held.delete(res));
  }

  dropAll(): void {
    for (const res of this.#held) res.socket?.destroy();
  }
}

/** The JSON bodies of the faults that replace an answer. */
export interface FaultBodies {
  /** The `'malformed'` answer. */
  malformed(): Answer;
  /** The -1 answer of `'busy_after_processing'`. */
  busy(): object;
}

/**
 * Plays a transport fault: the answer is withheld or replaced (by one of `bodies`). The lost faults reset
 * or hold the socket like their unprocessed twins.
 */
export function playFault(
  fault: Exclude<Fault, object>,
  res: ServerResponse,
  held: HeldResponses,
  bodies: FaultBodies
): void {
  switch (fault) {
    case 'timeout':
    case 'lost_timeout':
      held.hold(res);
      return;
    case 'reset':
    case 'lost':
      res.socket?.destroy();
      return;
    case 'html':
      send(res, 200, HTML_TYPE, page('微信公众平台', '<p>系统繁忙，请稍后再试。</p>'));
      return;
    case 'http500':
      send(res, 500, TEXT_TYPE, 'Internal Server Error');
      return;
    case 'empty':
      send(res, 200, JSON_TYPE, '');
      return;
    case 'malformed':
      sendAnswer(res, 200, bodies.malformed());
      return;
    case 'busy_after_processing':
      send(res, 200, JSON_TYPE, JSON.stringify(bodies.busy()));
      return;
  }
}
