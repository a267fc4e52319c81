import type { Clock, EpochMs } from '../shared/clock';

/** The latest instant a JavaScript `Date` can hold (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

/** `{"advanceMs": N}` was not a whole number of milliseconds the clock can move by. */
export class InvalidAdvanceError extends Error {
  override readonly name = 'InvalidAdvanceError';
}

/**
 * The sandbox's time: real time plus an offset that only grows (`POST /local/clock`). Each part that reads
 * time gets its own clock from {@link TimeTravel.clock} (the service one, the simulator another), so that
 * the simulated WeChat and the service never share a time source by accident, as WeChat's clock is not
 * ours; one {@link TimeTravel.advance} moves them all by the same amount.
 *
 * @see ../docs/wechat-protocol.md §11.8
 */
export class TimeTravel {
  #offsetMs = 0;
  readonly #offsets: { ms: number }[] = [];
  readonly #realNow: Clock;

  /** @param realNow the underlying time source (`Date.now`; tests may pin it). */
  constructor(realNow: Clock = Date.now) {
    this.#realNow = realNow;
  }

  /** A new clock, already at the current offset, moved by every later advance. */
  clock(): Clock {
    const offset = { ms: this.#offsetMs };
    this.#offsets.push(offset);
    return () => this.#realNow() + offset.ms;
  }

  /** The sandbox's time now. */
  now(): EpochMs {
    return this.#realNow() + this.#offsetMs;
  }

  /** How far the sandbox is ahead of real time. */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /**
   * Moves every clock forward by `ms`.
   *
   * @throws InvalidAdvanceError, changing nothing, unless `ms` is a non-negative safe integer that keeps the
   *   clock a valid date.
   */
  advance(ms: number): EpochMs {
    assertAdvance(ms);
    if (this.now() + ms > MAX_DATE_MS) {
      throw new InvalidAdvanceError('advanceMs would move the clock past the last valid date');
    }
    this.#offsetMs += ms;
    for (const offset of this.#offsets) offset.ms += ms;
    return this.now();
  }
}

function assertAdvance(ms: unknown): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) {
    throw new InvalidAdvanceError('advanceMs must be an integer number of milliseconds, 0 or more');
  }
}

/**
 * Reads `{"advanceMs": N}` strictly: a JSON object with that one field.
 *
 * @throws InvalidAdvanceError naming what is wrong (the value itself is never echoed).
 */
export function parseAdvanceRequest(payload: unknown): number {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InvalidAdvanceError('the body must be a JSON object: {"advanceMs": <milliseconds>}');
  }
  const keys = Object.keys(payload);
  if (keys.length !== 1 || keys[0] !== 'advanceMs') {
    throw new InvalidAdvanceError('the body must have exactly one field, advanceMs');
  }
  const { advanceMs } = payload as { advanceMs: unknown };
  assertAdvance(advanceMs);
  return advanceMs;
}
