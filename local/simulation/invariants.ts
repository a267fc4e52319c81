import { CALLER_ERROR_CODES } from '../../shared/errors';
import { REFRESH_MARGIN_MS } from '../../shared/tokens/policy';
import type { WechatSimulator } from '../simulator';
import type { Ledger } from './ledger';
import { GET_TOKEN_TIMEOUT_MS, type World } from './world';

/** The promises a simulation checks, by name: a failure names the one that broke. */
export type InvariantName =
  | 'token accepted until its expiresAt'
  | 'listed authorizer never lost'
  | 'revocation noticed'
  | 'calls per token-day within the cadence'
  | 'our traffic never causes 45009'
  | 'genuine push answered success'
  | 'nothing forged stored'
  | 'answer before the deadline'
  | 'answer well-formed';

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string
  ) {
    super(`${invariant}: ${detail}`);
  }
}

const fail = (invariant: InvariantName, detail: string): never => {
  throw new InvariantViolation(invariant, detail);
};

const DAY_MS = 24 * 3600_000;
/** Renewals a token needs in a day at the planned cadence, plus the first mint and a day boundary. */
export const CADENCE_PER_DAY = Math.ceil(DAY_MS / (7_200_000 - REFRESH_MARGIN_MS)) + 2;
/** Extra WeChat calls allowed per injected fault (retries, recovery) and per merchant event. */
export const ALLOWANCE_PER_FAULT = 4;
export const ALLOWANCE_PER_EVENT = 3;

/** When WeChat issued a token, by the simulator's records. */
function issuedAt(simulator: WechatSimulator, key: string, token: string): number | undefined {
  const view =
    key === 'component'
      ? simulator.state.componentTokens.get(token)
      : simulator.state.authorizers.get(key)?.accessTokens.get(token);
  return view?.issuedAt;
}

/**
 * Every token handed out is accepted by WeChat until the `expiresAt` it was handed out with, unless
 * something outside the service killed it (see `Ledger.kills`). Checked at every step for every token still
 * inside its promise, and once more at the promise itself when it has passed.
 */
export function checkPromises(world: World, ledger: Ledger, now: number): void {
  for (let i = ledger.served.length - 1; i >= 0; i--) {
    const served = ledger.served[i] as (typeof ledger.served)[number];
    const at = Math.min(now, served.promisedUntil - 1);
    if (!world.simulator.tokenValidAt(served.token, at)) {
      const issued = issuedAt(world.simulator, served.key, served.token) ?? served.servedAt;
      if (!ledger.killedExternally(served.key, issued, at)) {
        fail(
          'token accepted until its expiresAt',
          `${served.key}'s token served at ${iso(served.servedAt)} with expiresAt ${iso(served.promisedUntil)} was rejected at ${iso(at)} (${world.simulator.tokenStatus(served.token)})`
        );
      }
    }
    if (now >= served.promisedUntil - 1) ledger.served.splice(i, 1);
  }
}

/**
 * No authorizer WeChat lists is ever marked `needs_reauthorization`, and each is known (active, or without
 * API permission) once the channels that reached the service had their time (`Merchant.settleBy`). A
 * revocation is reflected by its `settleBy` too.
 */
export async function checkAuthorizers(world: World, ledger: Ledger, now: number): Promise<void> {
  for (const merchant of ledger.merchants.values()) {
    const record = await world.store.getAuthorizer(world.componentAppId, merchant.appId);
    const listed = world.simulator.isAuthorized(merchant.appId);
    if (listed && record?.status === 'needs_reauthorization') {
      fail(
        'listed authorizer never lost',
        `${merchant.appId} is needs_reauthorization while listed`
      );
    }
    if (now < merchant.settleBy) continue;
    if (listed) {
      const known = record?.status === 'active' || record?.status === 'without_api_permission';
      if (!known) {
        fail(
          'listed authorizer never lost',
          `${merchant.appId}, authorized at ${iso(merchant.changedAt)}, is ${record?.status ?? 'unknown'} here at ${iso(now)}`
        );
      }
    } else if (record?.status === 'active') {
      fail(
        'revocation noticed',
        `${merchant.appId}, revoked at ${iso(merchant.changedAt)}, is still active at ${iso(now)}`
      );
    }
  }
}

/**
 * WeChat calls per token per day stay within the renewal cadence plus a small allowance per fault injected
 * on that API and per event of that merchant, that day or the day before (faults wait for the next call of
 * their API); our own traffic never answers 45009.
 */
export function checkDailyCalls(world: World, ledger: Ledger, day: number): void {
  const start = ledger.start + day * DAY_MS;
  const end = start + DAY_MS;
  const perToken = new Map<string, number>();
  for (const call of world.simulator.calls) {
    if (call.at < start || call.at >= end) continue;
    if (call.errcode === 45009 && call.fault === undefined) {
      fail('our traffic never causes 45009', `${call.api} answered 45009 at ${iso(call.at)}`);
    }
    const key =
      call.api === 'api_component_token'
        ? 'component'
        : call.api === 'api_authorizer_token'
          ? String((call.body as { authorizer_appid?: unknown } | undefined)?.authorizer_appid)
          : undefined;
    if (key) perToken.set(key, (perToken.get(key) ?? 0) + 1);
  }
  const faultsOn = (api: string) =>
    ledger.faults.get(day, api) + (day > 0 ? ledger.faults.get(day - 1, api) : 0);
  for (const [key, calls] of perToken) {
    const faults = faultsOn(key === 'component' ? 'api_component_token' : 'api_authorizer_token');
    const events = ledger.events.get(day, key) + (day > 0 ? ledger.events.get(day - 1, key) : 0);
    const allowed = CADENCE_PER_DAY + ALLOWANCE_PER_FAULT * faults + ALLOWANCE_PER_EVENT * events;
    if (calls > allowed) {
      fail(
        'calls per token-day within the cadence',
        `${key}: ${calls} renewals on day ${day} (allowed ${allowed}: cadence ${CADENCE_PER_DAY}, ${faults} faults, ${events} events)`
      );
    }
  }
}

/** Every genuine push (not withheld on purpose) was answered `success`. */
export function checkPushes(world: World, from: number): number {
  const pushes = world.simulator.pushes;
  for (let i = from; i < pushes.length; i++) {
    const push = pushes[i] as (typeof pushes)[number];
    if (push.lost) continue;
    if (push.status !== 200 || push.body !== 'success') {
      fail(
        'genuine push answered success',
        `${push.infoType} at ${iso(push.at)} got ${push.status} ${JSON.stringify(push.body.slice(0, 80))}`
      );
    }
  }
  return pushes.length;
}

/** The stored ticket is one WeChat issued: nothing forged was stored. */
export async function checkTicket(world: World): Promise<void> {
  const stored = await world.store.getTicket(world.componentAppId);
  if (stored && !world.simulator.state.tickets.has(stored.ticket)) {
    fail('nothing forged stored', 'the stored component_verify_ticket was never issued by WeChat');
  }
}

/** A get-token answer came in time and is a token with a future promise, or a documented code. */
export function checkAnswer(
  answer: Record<string, unknown>,
  elapsedMs: number,
  now: number
): { accessToken: string; expiresAt: number } | { code: string } {
  if (typeof answer.functionError === 'string') {
    fail(
      answer.functionError === 'TimeoutError' ? 'answer before the deadline' : 'answer well-formed',
      `get-token gave no answer: a function error (${answer.functionError})`
    );
  }
  if (elapsedMs > GET_TOKEN_TIMEOUT_MS) {
    fail(
      'answer before the deadline',
      `get-token answered after ${Math.round(elapsedMs)} ms (timeout ${GET_TOKEN_TIMEOUT_MS} ms)`
    );
  }
  const error = answer.error as { code?: unknown } | undefined;
  if (error) {
    if (!(CALLER_ERROR_CODES as readonly unknown[]).includes(error.code)) {
      fail('answer well-formed', `unknown error code ${String(error.code)}`);
    }
    return { code: error.code as string };
  }
  const expiresAt = Date.parse(String(answer.expiresAt));
  if (typeof answer.accessToken !== 'string' || !answer.accessToken || !(expiresAt > now)) {
    fail(
      'answer well-formed',
      `answer without a usable token: ${JSON.stringify(answer).slice(0, 80)}`
    );
  }
  return { accessToken: answer.accessToken as string, expiresAt };
}

export const iso = (at: number) => new Date(at).toISOString().slice(0, 16).replace('T', ' ');
