import { describe, expect, it } from 'vitest';
import { SimulationFailure, simulate } from '../../local/simulation/simulate';
import type { TokenStore } from '../../shared/store/token-store';

/**
 * The fixed seed set `npm test` runs (the full 30-day runs are `npm run simulate -- --days 30 --seeds 1-20`).
 * Each seed is several simulated days of merchants, faults and callers against the strict simulator, with
 * every invariant checked at every 5-minute step; a failure names the seed, the step and the invariant.
 * Some steps run several actors for one merchant at once (renewals, reports, code exchanges, the
 * reconciliation, a revocation), their WeChat calls and store writes interleaved in an order drawn from the
 * seed.
 */
/** Each seed with WeChat's clock ahead, the same, or behind ours (protocol §11.8), in seconds. */
const SEEDS: [number, number][] = [
  [11, 90],
  [23, 0],
  [37, -90],
];
/** Two days each: with about eight interleaved steps a day, as long as three days took without them. */
const DAYS = 2;
/** A simulated day is a few seconds of real time here; room for a loaded machine. */
const TIMEOUT_MS = 300_000;

describe('a simulated operation of the service', () => {
  it.each(SEEDS)(
    `keeps every invariant for ${DAYS} days with seed %i, WeChat's clock %i s from ours`,
    { timeout: TIMEOUT_MS },
    async (seed, skewSeconds) => {
      const report = await simulate({ seed, days: DAYS, clockSkewMs: skewSeconds * 1000 });
      expect(report).toMatchObject({ seed, days: DAYS, earlyDeaths: 0, authorizersLost: 0 });
      expect(report.tokensServed).toBeGreaterThan(50);
      expect(report.faultsInjected).toBeGreaterThan(0);
      expect(report.authorizerCallsPerTokenDay).toBeGreaterThan(0);
      expect(report.interleavings.steps).toBeGreaterThan(DAYS * 3);
      expect(Object.keys(report.interleavings.pairs).length).toBeGreaterThan(6);
    }
  );

  it('replays the same events at the same simulated times for the same seed', {
    timeout: TIMEOUT_MS,
  }, async () => {
    const first = await simulate({ seed: 5, days: 1 });
    const again = await simulate({ seed: 5, days: 1 });
    const other = await simulate({ seed: 6, days: 1 });
    expect(again.events).toEqual(first.events);
    expect(other.events).not.toEqual(first.events);
  });

  it('names the broken invariant, the seed and the step when the service over-promises', {
    timeout: TIMEOUT_MS,
  }, async () => {
    const failure = await simulate({
      seed: 3,
      days: 1,
      wrapGetToken: (getToken) => async (request) => {
        const answer = await getToken(request);
        if (typeof answer.expiresAt !== 'string') return answer;
        const stretched = Date.parse(answer.expiresAt) + 30 * 60_000;
        return { ...answer, expiresAt: new Date(stretched).toISOString() };
      },
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SimulationFailure);
    expect(failure).toMatchObject({ seed: 3, invariant: 'token accepted until its expiresAt' });
    expect((failure as SimulationFailure).step).toBeGreaterThan(0);
    expect((failure as Error).message).toMatch(
      /^seed 3 broke "token accepted until its expiresAt" at step \d+/
    );
  });

  it('names "stored token is the last WeChat issued" when a renewal keeps the older token', {
    timeout: TIMEOUT_MS,
  }, async () => {
    // A service that, renewing, keeps the token it had and saves only the new times.
    const keepsOldToken = (store: TokenStore): TokenStore => {
      const save: TokenStore['saveAuthorizerToken'] = async (c, a, owner, token, now, version) => {
        const before = await store.getAuthorizer(c, a);
        const kept = before?.accessToken ? { ...token, accessToken: before.accessToken } : token;
        return store.saveAuthorizerToken(c, a, owner, kept, now, version);
      };
      return new Proxy(store, {
        get: (target, property) => {
          if (property === 'saveAuthorizerToken') return save;
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    };
    const failure = await simulate({ seed: 3, days: 1, wrapStore: keepsOldToken }).catch(
      (error: unknown) => error
    );
    expect(failure).toMatchObject({ invariant: 'stored token is the last WeChat issued' });
    expect((failure as Error).message).toMatch(/not capped to it \+ 5 min/);
  });

  it('names "no honest report answered with a dead token" when a report gets its token back', {
    timeout: TIMEOUT_MS,
  }, async () => {
    const failure = await simulate({
      seed: 3,
      days: 1,
      // Many interleaved steps: the first `lapse` step has a caller report its dead token.
      interleavePerDay: 96,
      wrapGetToken: (getToken) => async (request) => {
        const answer = await getToken(request);
        const reported = (request as { invalidToken?: string }).invalidToken;
        return reported && typeof answer.accessToken === 'string'
          ? { ...answer, accessToken: reported }
          : answer;
      },
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ invariant: 'no honest report answered with a dead token' });
  });

  it('catches an answer that comes after the deadline', { timeout: TIMEOUT_MS }, async () => {
    const failure = await simulate({
      seed: 3,
      days: 1,
      wrapGetToken: (getToken) => async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 2_100));
        return getToken(request);
      },
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ invariant: 'answer before the deadline' });
  });
});
