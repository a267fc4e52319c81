/**
 * What the simulation knows happened, as WeChat and the merchants see it, independently of the service: who
 * authorized when, who revoked, which tokens callers were handed and until when, what was injected. The
 * invariants compare the service's behaviour against it.
 */

/** A token handed to a caller, with the `expiresAt` it was handed out with. */
export interface ServedToken {
  /** `component` or the authorizer appid. */
  key: string;
  token: string;
  servedAt: number;
  promisedUntil: number;
  /** `Ledger.seq` when the get-token that answered it began (orders it against forced renewals). */
  startSeq: number;
}

/**
 * A renewal of `key` forced from outside the schedule (an operator's, or one a report forced while WeChat
 * could not say whether the reported token was alive): it kills the tokens callers already held 5 minutes
 * after it began, as docs/callers.md says. `seq` orders it against the get-tokens that handed tokens out.
 */
export interface ForcedRenewal {
  seq: number;
  at: number;
}

export interface Merchant {
  appId: string;
  /** WeChat's view: authorized now (until a revocation). */
  authorized: boolean;
  /** Sim time of the latest authorization or revocation. */
  changedAt: number;
  /** By when the service must reflect the latest change (depends on which channels reached it). */
  settleBy: number;
  apiPermission: boolean;
}

const DAY_MS = 24 * 3600_000;
/**
 * A forced renewal that fails is retried by the next scheduled runs (`RETRY_AFTER_FAILURE_MS`, 4 minutes,
 * then the 5-minute schedule): its successor comes within this long.
 */
const FORCED_RETRY_WINDOW_MS = 10 * 60_000;

/** Per-day counters, indexed by simulated day. */
export class DailyCounts {
  readonly #counts = new Map<string, number>();
  add(day: number, key: string, n = 1) {
    const id = `${day}|${key}`;
    this.#counts.set(id, (this.#counts.get(id) ?? 0) + n);
  }
  get(day: number, key: string): number {
    return this.#counts.get(`${day}|${key}`) ?? 0;
  }
  /** Every key counted on `day`, with its count. */
  onDay(day: number): Map<string, number> {
    const prefix = `${day}|`;
    return new Map(
      [...this.#counts]
        .filter(([id]) => id.startsWith(prefix))
        .map(([id, n]) => [id.slice(prefix.length), n])
    );
  }
}

export class Ledger {
  readonly merchants = new Map<string, Merchant>();
  readonly served: ServedToken[] = [];
  /**
   * Renewals forced from outside the schedule, per key (see `ForcedRenewal`). A token handed out by a
   * get-token that began before one, and superseded by it, is not held against its promise. Tokens killed
   * by a re-authorization or a revocation are recognised by WeChat's own record (`revokedAt`).
   */
  readonly forcedRenewals = new Map<string, ForcedRenewal[]>();
  /** Interleaved steps per day (`*`), and pairs of actor kinds that overlapped in them per day. */
  readonly interleavings = new DailyCounts();
  /** A counter that orders get-tokens and forced renewals in real time (the simulated clock stands still). */
  #seq = 0;
  /** Faults injected per API per day (and `*` for all), and events per appid per day: the call allowance. */
  readonly faults = new DailyCounts();
  readonly events = new DailyCounts();
  tokensServed = 0;
  /** get-token answers that came late while the process was starved of CPU (`checkAnswer`). */
  starvedAnswers = 0;
  forgedPushes = 0;
  /** What happened, newest last (the last lines are shown when an invariant breaks). */
  readonly trace: string[] = [];
  /** Every scenario event (not the service's log lines), for replay comparisons. */
  readonly scenarioEvents: string[] = [];

  /** The simulated time, for trace lines written from inside the service. */
  now: () => number;

  constructor(readonly start: number) {
    this.now = () => start;
  }

  dayOf(at: number): number {
    return Math.floor((at - this.start) / DAY_MS);
  }

  /** A scenario event, kept for replay comparisons and in the trace. */
  note(at: number, line: string) {
    const stamped = `${new Date(at).toISOString().slice(5, 16).replace('T', ' ')} ${line}`;
    this.scenarioEvents.push(stamped);
    this.traceLine(stamped);
  }

  /** A line for the failure trace only (the service's own log lines). */
  traceLine(line: string) {
    this.trace.push(line);
    if (this.trace.length > 400) this.trace.splice(0, 100);
  }

  nextSeq(): number {
    this.#seq += 1;
    return this.#seq;
  }

  /** A renewal of `key` forced from outside the schedule begins now (it holds the lease from now on). */
  forcedRenewal(key: string, at: number) {
    const list = this.forcedRenewals.get(key) ?? [];
    list.push({ seq: this.nextSeq(), at });
    this.forcedRenewals.set(key, list);
  }

  /**
   * Whether `served` died because of a forced renewal that began after its get-token: its successor was
   * issued (at `supersededAt`) by that renewal, or by the retry the schedule makes when it failed
   * (`FORCED_RETRY_WINDOW_MS`).
   */
  supersededByForcedRenewal(served: ServedToken, supersededAt: number): boolean {
    return (this.forcedRenewals.get(served.key) ?? []).some(
      (f) =>
        f.seq > served.startSeq &&
        f.at <= supersededAt &&
        supersededAt <= f.at + FORCED_RETRY_WINDOW_MS
    );
  }

  interleaved(at: number, pairs: readonly string[]) {
    const day = this.dayOf(at);
    this.interleavings.add(day, '*');
    for (const pair of pairs) this.interleavings.add(day, pair);
  }

  fault(at: number, api: string) {
    this.faults.add(this.dayOf(at), '*');
    this.faults.add(this.dayOf(at), api);
  }

  event(appId: string, at: number) {
    this.events.add(this.dayOf(at), appId);
  }
}
