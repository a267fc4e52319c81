import type { Fault } from '../simulator';
import { checkAnswer, checkReportAnswer } from './invariants';
import type { Ledger } from './ledger';
import type { MisbehavingCaller } from './scenario';
import type { World } from './world';

/** Callers renew this long before the `expiresAt` they were given (as the client package does). */
export const CALLER_MARGIN_MS = 60_000;
/** False reports the misbehaving caller sends per step. */
const FALSE_REPORTS_PER_STEP = 4;
/** What WeChat answers for a token it rejects (the client package's retry rule). */
const TOKEN_REJECTED = new Set([40001, 42001, 40014]);

interface Held {
  token: string;
  expiresAt: number;
}

/**
 * The service's callers: one per token (the component token and each merchant's), each holding the token it
 * was given and using it at WeChat until shortly before its `expiresAt`. A token WeChat rejects is reported
 * back (`invalidToken`), and the answer to such an honest report must be a live token or a coded error;
 * a rejection the ledger does not excuse breaks the promise and is caught by `checkPromises`. A
 * misbehaving caller reports tokens WeChat accepts: that must renew nothing. Every answer is checked for
 * its deadline and shape, and every token handed out is recorded in the ledger.
 *
 * Each caller runs as an actor of the world's conductor (`inline` for a plain get-token, `report` for an
 * honest report, `false-report`), so the service's work for it is attributed to it.
 */
export class Callers {
  readonly #held = new Map<string, Held>();

  constructor(
    private readonly world: World,
    private readonly ledger: Ledger
  ) {}

  async act(now: number, misbehaving: MisbehavingCaller | undefined): Promise<void> {
    await this.#use('component', now);
    for (const merchant of this.ledger.merchants.values()) {
      if (merchant.authorized || this.#held.has(merchant.appId))
        await this.#use(merchant.appId, now);
    }
    if (misbehaving) {
      for (let i = 0; i < FALSE_REPORTS_PER_STEP; i++) {
        await this.world.conductor.as('false-report', () =>
          this.falseReport(misbehaving.appId, now)
        );
      }
    }
  }

  /** What a caller does each step: keeps its token while WeChat accepts it, else asks (or reports). */
  async #use(key: string, now: number): Promise<void> {
    const held = this.#held.get(key);
    const rejected =
      held && !this.world.simulator.tokenValidAt(held.token, this.world.wechatTime(now));
    if (held && rejected) {
      await this.world.conductor.as('report', () => this.#report(key, held.token, now));
      return;
    }
    if (held && held.expiresAt - now > CALLER_MARGIN_MS) return;
    await this.world.conductor.as('inline', () => this.#fetch(key, now));
  }

  /** A get-token for `key` without a report (run as an `inline` actor in an interleaved step). */
  async inline(key: string, now: number): Promise<void> {
    await this.#fetch(key, now);
  }

  /**
   * A caller uses its token at WeChat (getApiQuota, a call any token may make), as the client package's
   * `withAuthorizerToken` does, and on 40001/42001/40014 reports it and retries once with the answer. With
   * `checkFault`, WeChat then meets that fault on the next getApiQuota call (normally the service's check
   * of this report). `token` is the one the caller holds (taken when an interleaved step begins: another
   * caller of the same merchant may replace it meanwhile). Run as a `report` actor.
   */
  async honestReport(
    key: string,
    now: number,
    checkFault?: Fault,
    token = this.#held.get(key)?.token
  ): Promise<void> {
    if (!token) {
      await this.#fetch(key, now);
      return;
    }
    const errcode = await this.#useAtWechat(token);
    if (errcode === undefined || !TOKEN_REJECTED.has(errcode)) return;
    if (checkFault !== undefined) {
      // Only when the token is found dead, which depends on the service: the trace, not the scenario events.
      this.world.simulator.failNext('getApiQuota', checkFault);
      this.ledger.fault(now, 'getApiQuota');
      this.ledger.traceLine(
        `fault getApiQuota ${JSON.stringify(checkFault)} ×1 (a report's check)`
      );
    }
    await this.#report(key, token, now);
  }

  /** The token the caller of `key` holds now, if any. */
  heldToken(key: string): string | undefined {
    return this.#held.get(key)?.token;
  }

  /**
   * A caller looping on a 40001 of another cause: it reports a token WeChat accepts (fetching one first
   * when it holds none). Run as a `false-report` actor.
   */
  async falseReport(key: string, now: number): Promise<void> {
    let held = this.#held.get(key);
    if (!held || !this.world.simulator.tokenValidAt(held.token, this.world.wechatTime(now))) {
      await this.#fetch(key, now);
      held = this.#held.get(key);
    }
    if (!held || !this.world.simulator.tokenValidAt(held.token, this.world.wechatTime(now))) return;
    await this.#fetch(key, now, held.token);
  }

  /** A report of `token`, which WeChat rejects: the answer must not be a dead token. */
  async #report(key: string, token: string, now: number): Promise<void> {
    const answer = await this.#fetch(key, now, token);
    if (answer) await checkReportAnswer(this.world, key, token, answer, this.world.now());
  }

  /** getApiQuota made with `token` by the caller itself (not through the service); its errcode. */
  async #useAtWechat(token: string): Promise<number | undefined> {
    try {
      const response = await fetch(
        `${this.world.simulator.url}/cgi-bin/openapi/quota/get?access_token=${encodeURIComponent(token)}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ cgi_path: '/cgi-bin/openapi/quota/get' }),
          signal: AbortSignal.timeout(5_000),
        }
      );
      const body = (await response.json()) as { errcode?: unknown };
      return typeof body.errcode === 'number' ? body.errcode : 0;
    } catch {
      return undefined;
    }
  }

  async #fetch(
    key: string,
    now: number,
    invalidToken?: string
  ): Promise<{ accessToken: string } | { code: string } | undefined> {
    const request = {
      ...(key === 'component' ? { component: true } : { authorizerAppId: key }),
      ...(invalidToken ? { invalidToken } : {}),
    };
    const startSeq = this.ledger.nextSeq();
    const { answer, elapsedMs, stalledMs } = await this.world.getToken(request);
    const result = checkAnswer(answer, elapsedMs, now, stalledMs);
    if ('code' in result && result.code === 'host_starved') this.ledger.starvedAnswers += 1;
    if ('code' in result) {
      this.#held.delete(key);
      return result;
    }
    this.#held.set(key, { token: result.accessToken, expiresAt: result.expiresAt });
    this.ledger.served.push({
      key,
      token: result.accessToken,
      servedAt: now,
      promisedUntil: result.expiresAt,
      startSeq,
    });
    this.ledger.tokensServed += 1;
    return result;
  }
}
