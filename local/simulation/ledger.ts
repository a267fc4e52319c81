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

/** Per-day counters, indexed by simulated day. */
class DailyCounts {
  readonly #counts = new Map<string, number>();
  add(day: number, key: string, n = 1) {
    const id = `${day}|${key}`;
    this.#counts.set(id, (this.#counts.get(id) ?? 0) + n);
  }
  get(day: number, key: string): number {
    return this.#counts.get(`${day}|${key}`) ?? 0;
  }
}

export class Ledger {
  readonly merchants = new Map<string, Merchant>();
  readonly served: ServedToken[] = [];
  /**
   * Moments a key's tokens were killed by something outside the service's control: a re-authorization
   * (WeChat kills the old access token at once), a revocation, or a refresh forced by a caller's false
   * `invalidToken` report. Tokens WeChat issued before such a moment are not held against the promise.
   */
  readonly kills = new Map<string, number[]>();
  /** Faults injected per API per day (and `*` for all), and events per appid per day: the call allowance. */
  readonly faults = new DailyCounts();
  readonly events = new DailyCounts();
  tokensServed = 0;
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

  kill(key: string, at: number) {
    const list = this.kills.get(key) ?? [];
    list.push(at);
    this.kills.set(key, list);
  }

  /** Whether something outside the service killed `key`'s token issued at `issuedAt`, by `at`. */
  killedExternally(key: string, issuedAt: number, at: number): boolean {
    return (this.kills.get(key) ?? []).some((k) => k >= issuedAt && k <= at);
  }

  fault(at: number, api: string) {
    this.faults.add(this.dayOf(at), '*');
    this.faults.add(this.dayOf(at), api);
  }

  event(appId: string, at: number) {
    this.events.add(this.dayOf(at), appId);
  }
}
