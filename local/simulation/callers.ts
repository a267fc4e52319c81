import { checkAnswer } from './invariants';
import type { Ledger } from './ledger';
import type { MisbehavingCaller } from './scenario';
import type { World } from './world';

/** Callers renew this long before the `expiresAt` they were given (as the client package does). */
export const CALLER_MARGIN_MS = 60_000;
/** False reports the misbehaving caller sends per step. */
const FALSE_REPORTS_PER_STEP = 3;

interface Held {
  token: string;
  expiresAt: number;
}

/**
 * The service's callers: one per token (the component token and each merchant's), each holding the token it
 * was given and using it at WeChat until shortly before its `expiresAt`. A token WeChat rejects is reported
 * back (`invalidToken`) only when something outside the service killed it (a re-authorization or
 * revocation); any other rejection breaks the promise and is caught by `checkPromises`. Every answer is
 * checked for its deadline and shape, and every token handed out is recorded in the ledger.
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
      for (let i = 0; i < FALSE_REPORTS_PER_STEP; i++)
        await this.#falseReport(misbehaving.appId, now);
    }
  }

  async #use(key: string, now: number): Promise<void> {
    const held = this.#held.get(key);
    const rejected = held && !this.world.simulator.tokenValidAt(held.token, now);
    if (held && !rejected && held.expiresAt - now > CALLER_MARGIN_MS) return;
    await this.#fetch(key, now, rejected ? held?.token : undefined);
  }

  /** A caller looping on a 40001 of another cause: it reports the valid token it holds. */
  async #falseReport(key: string, now: number): Promise<void> {
    const held = this.#held.get(key);
    if (!held) {
      await this.#fetch(key, now);
      return;
    }
    const answer = await this.#fetch(key, now, held.token);
    if (answer && answer !== held.token) this.ledger.kill(key, now);
  }

  async #fetch(key: string, now: number, invalidToken?: string): Promise<string | undefined> {
    const request = {
      ...(key === 'component' ? { component: true } : { authorizerAppId: key }),
      ...(invalidToken ? { invalidToken } : {}),
    };
    const { answer, elapsedMs } = await this.world.getToken(request);
    const result = checkAnswer(answer, elapsedMs, now);
    if ('code' in result) {
      this.#held.delete(key);
      return undefined;
    }
    this.#held.set(key, { token: result.accessToken, expiresAt: result.expiresAt });
    this.ledger.served.push({
      key,
      token: result.accessToken,
      servedAt: now,
      promisedUntil: result.expiresAt,
    });
    this.ledger.tokensServed += 1;
    return result.accessToken;
  }
}
