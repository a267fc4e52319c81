import { CALLER_ERROR_CODES } from '../../shared/errors';
import { REFRESH_MARGIN_MS, REPORT_CHECK_INTERVAL_MS } from '../../shared/policy';
import type { TokenView, WechatSimulator } from '../simulator';
import type { Ledger } from './ledger';
import { GET_TOKEN_TIMEOUT_MS, type World } from './world';

/** The promises a simulation checks, by name: a failure names the one that broke. */
export type InvariantName =
  | 'token accepted until its expiresAt'
  | 'stored token is the last WeChat issued'
  | 'one writer mints a token at a time'
  | 'no honest report answered with a dead token'
  | 'listed authorizer never lost'
  | 'revocation noticed'
  | 'calls per token-day within the cadence'
  | 'our traffic never causes 45009'
  | 'genuine push answered success'
  | 'nothing forged stored'
  | 'no lifecycle event lost'
  | "permissions follow WeChat's"
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

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
/** Renewals a token needs in a day at the planned cadence, plus the first mint and a day boundary. */
export const CADENCE_PER_DAY = Math.ceil(DAY_MS / (7_200_000 - REFRESH_MARGIN_MS)) + 2;
/** Extra WeChat calls allowed per injected fault (retries, recovery) and per merchant event. */
export const ALLOWANCE_PER_FAULT = 4;
export const ALLOWANCE_PER_EVENT = 3;
/**
 * Faults on getApiQuota (however many) leave reports unchecked: the report limits let that cost one forced
 * renewal per token per hour, so one call per hour in which a check of the token met a fault.
 */
export const ALLOWANCE_PER_CHECK_FAULT = 1;

/** WeChat's record of a token (`component` or an authorizer appid as `key`). */
function tokenView(simulator: WechatSimulator, key: string, token: string): TokenView | undefined {
  return key === 'component'
    ? simulator.state.componentTokens.get(token)
    : simulator.state.authorizers.get(key)?.accessTokens.get(token);
}

/** What ended a token first by WeChat's rules, if it ended by `at`. */
function endOf(
  simulator: WechatSimulator,
  view: TokenView,
  at: number
): { reason: 'expired' | 'superseded' | 'revoked'; at: number } | undefined {
  const ends: { reason: 'expired' | 'superseded' | 'revoked'; at: number }[] = [];
  if (simulator.rules.tokensExpire) ends.push({ reason: 'expired', at: view.expiresAt });
  if (view.supersededAt !== undefined) {
    ends.push({ reason: 'superseded', at: view.supersededAt + simulator.rules.supersededGraceMs });
  }
  if (view.revokedAt !== undefined) ends.push({ reason: 'revoked', at: view.revokedAt });
  return ends.filter((end) => end.at <= at).sort((a, b) => a.at - b.at)[0];
}

/**
 * Every token handed out is accepted by WeChat until the `expiresAt` it was handed out with, unless
 * something outside the service killed it: a re-authorization or a revocation (WeChat's `revokedAt`), or a
 * renewal forced from outside the schedule after the token was handed out (`Ledger.forcedRenewals`).
 * Checked at every step for every token still inside its promise, and once more at the promise itself when
 * it has passed.
 */
export function checkPromises(world: World, ledger: Ledger, now: number): void {
  for (let i = ledger.served.length - 1; i >= 0; i--) {
    const served = ledger.served[i] as (typeof ledger.served)[number];
    const at = Math.min(now, served.promisedUntil - 1);
    if (!world.simulator.tokenValidAt(served.token, world.wechatTime(at))) {
      const view = tokenView(world.simulator, served.key, served.token);
      const end = view && endOf(world.simulator, view, world.wechatTime(at));
      const external =
        end?.reason === 'revoked' ||
        (end?.reason === 'superseded' &&
          ledger.supersededByForcedRenewal(
            served,
            (view?.supersededAt as number) - world.wechatTime(0)
          ));
      if (!external) {
        fail(
          'token accepted until its expiresAt',
          `${served.key}'s token served at ${iso(served.servedAt)} with expiresAt ${iso(served.promisedUntil)} was rejected at ${iso(at)} (${end?.reason ?? (view ? 'not yet issued' : 'unknown')}${view?.supersededAt === undefined ? '' : `, successor issued at ${iso(view.supersededAt)}`})`
        );
      }
    }
    if (now >= served.promisedUntil - 1) ledger.served.splice(i, 1);
  }
}

/**
 * The stored token of an authorizer is the last one WeChat issued for it (architecture §3: each token kills
 * its predecessor 5 minutes after it is issued), or, when the service cannot know which one is newer (an
 * answer lost, two writers at once), the stored one is capped to its successor's issue time + 5 minutes and
 * due for renewal (`refreshAt` ≤ now, or a renewal failed and is retried: `lastErrorCode`). A record without
 * a token must be due. Checked for `appIds` active both at WeChat (with API permission) and in the store.
 * A record still of the authorization before a re-authorization (its token revoked by WeChat, its refresh
 * token no longer WeChat's) is waiting for its code's exchange, which the other invariants watch.
 */
export async function checkSuccession(
  world: World,
  now: number,
  appIds: Iterable<string>
): Promise<void> {
  const grace = world.simulator.rules.supersededGraceMs;
  for (const appId of appIds) {
    const view = world.simulator.state.authorizers.get(appId);
    if (!view?.active || !view.apiPermission || view.accessTokens.size === 0) continue;
    const record = await world.store.getAuthorizer(world.componentAppId, appId);
    if (record?.status !== 'active') continue;
    const tokens = [...view.accessTokens];
    const [newest, newestView] = tokens[tokens.length - 1] as [string, TokenView];
    if (record.accessToken === newest) continue;
    const due =
      record.refreshAt !== undefined &&
      (record.refreshAt <= now || record.lastErrorCode !== undefined);
    const state = `expiresAt ${record.expiresAt === undefined ? '-' : iso(record.expiresAt)}, refreshAt ${record.refreshAt === undefined ? '-' : iso(record.refreshAt)}${record.lastErrorCode ? `, last error ${record.lastErrorCode}` : ''}`;
    if (!record.accessToken) {
      if (due) continue;
      fail(
        'stored token is the last WeChat issued',
        `${appId} stores no token and is not due (${state}), but WeChat issued one at ${iso(newestView.issuedAt)}`
      );
    }
    const index = tokens.findIndex(([token]) => token === record.accessToken);
    if (index < 0) {
      fail('stored token is the last WeChat issued', `${appId} stores a token WeChat never issued`);
    }
    const [, stored] = tokens[index] as [string, TokenView];
    const [, successor] = tokens[index + 1] as [string, TokenView];
    if (stored.revokedAt !== undefined && record.refreshToken !== view.refreshToken) continue;
    // WeChat's issue time, on the service's clock (the two differ by the run's skew).
    const successorIssuedAt = successor.issuedAt - world.wechatTime(0);
    const capped = record.expiresAt !== undefined && record.expiresAt <= successorIssuedAt + grace;
    if (capped && due) continue;
    fail(
      'stored token is the last WeChat issued',
      `${appId} stores the token issued at ${iso(stored.issuedAt)} (${state}), but WeChat issued ${tokens.length - 1 - index} newer, the first at ${iso(successor.issuedAt)}${capped ? ': capped but not due' : ': not capped to it + 5 min'}`
    );
  }
}

/**
 * A caller reported `reported`, which WeChat rejects: the answer is a token WeChat accepts now, or a coded
 * error, never the dead token (architecture §7: honest reports always heal). A token a re-authorization or
 * revocation killed after the answer was chosen is not held against it, nor is the reported token answered
 * on the strength of a check that found it alive within `REPORT_CHECK_INTERVAL_MS` (a check's result is
 * reused for that minute).
 */
export async function checkReportAnswer(
  world: World,
  key: string,
  reported: string,
  answer: { accessToken: string } | { code: string },
  now: number
): Promise<void> {
  if ('code' in answer) return;
  const token = answer.accessToken;
  if (token === reported && (await checkedAliveWithin(world, key, reported, now))) return;
  if (token === reported) {
    fail(
      'no honest report answered with a dead token',
      `${key}: a caller reported its token (${world.simulator.tokenStatus(reported)} at WeChat) at ${iso(now)} and was answered the same token`
    );
  }
  if (world.simulator.tokenValidAt(token, world.wechatTime(now))) return;
  const view = tokenView(world.simulator, key, token);
  if (view && endOf(world.simulator, view, world.wechatTime(now))?.reason === 'revoked') return;
  fail(
    'no honest report answered with a dead token',
    `${key}: a caller reported a dead token at ${iso(now)} and was answered another token WeChat rejects (${world.simulator.tokenStatus(token)})`
  );
}

/** Whether the service recorded a check of `token` within the interval, when WeChat still accepted it. */
async function checkedAliveWithin(
  world: World,
  key: string,
  token: string,
  now: number
): Promise<boolean> {
  const record =
    key === 'component'
      ? await world.store.getComponentToken(world.componentAppId)
      : await world.store.getAuthorizer(world.componentAppId, key);
  const checkedAt = record?.reportCheckedAt;
  if (record?.accessToken !== token || checkedAt === undefined) return false;
  // Actors of one interleaved step share its simulated instant: a revocation in the same step as the
  // check may have come after it, so the token is judged just before the check's instant.
  return (
    now - checkedAt < REPORT_CHECK_INTERVAL_MS &&
    world.simulator.tokenValidAt(token, world.wechatTime(checkedAt - 1))
  );
}

/**
 * No authorizer WeChat lists is ever marked `needs_reauthorization`, and each is known (active, without API
 * permission, or awaiting a code while WeChat gives no refresh token) once the channels that reached the
 * service had their time (`Merchant.settleBy`). A revocation is reflected by its `settleBy` too.
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
    if (listed && record?.status === 'active') {
      const granted = world.simulator.state.authorizers.get(merchant.appId)?.funcIds ?? [];
      const held = record.funcInfo;
      if (granted.length !== held.length || granted.some((id) => !held.includes(id))) {
        fail(
          "permissions follow WeChat's",
          `${merchant.appId} holds permission sets [${held}] at ${iso(now)}; WeChat has [${granted}] since ${iso(merchant.changedAt)}`
        );
      }
    }
    if (listed) {
      // Waiting for a code is knowing the authorization only while WeChat itself gives no refresh token.
      const waiting =
        record?.status === 'awaiting_authorization_code' &&
        world.simulator.listedRefreshToken(merchant.appId) === '';
      const known =
        record?.status === 'active' || record?.status === 'without_api_permission' || waiting;
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
 * Every lifecycle event the service stored with a state change reaches the bus: its writer moves it at once,
 * or a retried push, or the scheduled reconciliation (every 6 hours here) when the outbox refused it.
 */
export function checkEvents(world: World, now: number): void {
  for (const [id, written] of world.events.written) {
    if (world.events.published.has(id)) continue;
    if (now - written.at > EVENT_DELIVERY_LIMIT_MS) {
      fail(
        'no lifecycle event lost',
        `the ${written.type} event of ${written.authorizerAppId}, stored with its change at ${iso(written.at)}, never reached the bus`
      );
    }
  }
}
/** The reconciliation's interval and an hour to spare. */
const EVENT_DELIVERY_LIMIT_MS = 7 * HOUR_MS;

/**
 * WeChat calls per token per day stay within the renewal cadence plus a small allowance per fault and per
 * event of that merchant, that day or the day before (faults wait for the next call of their API); our own
 * traffic never answers 45009. The faults counted for an authorizer are the ones its own renewals met (the
 * simulator records which call took a fault), the ones on the APIs every renewal depends on (the component
 * token, the authorizer list of the 61023 recovery), and, at one call each, the ones the checks of its
 * reported tokens met (getApiQuota left unanswered: the report limits allow one forced renewal an hour). A
 * caller's false reports are no event: they must cost no renewal at all.
 */
export function checkDailyCalls(world: World, ledger: Ledger, day: number): void {
  const start = ledger.start + day * DAY_MS;
  const end = start + DAY_MS;
  const since = start - (day > 0 ? DAY_MS : 0);
  const perToken = new Map<string, number>();
  /**
   * Faults met per authorizer, that day and the day before: by its renewals, and by the checks of its
   * tokens (counted once per hour: the report limits allow one forced renewal per hour).
   */
  const renewalFaults = new Map<string, number>();
  const checkFaultHours = new Map<string, Set<number>>();
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const owners = tokenOwners(world.simulator);
  for (const call of world.simulator.calls) {
    if (call.at < since || call.at >= end) continue;
    const appId = (call.body as { authorizer_appid?: unknown } | undefined)?.authorizer_appid;
    if (call.fault !== undefined && call.api === 'api_authorizer_token') {
      count(renewalFaults, String(appId));
    }
    if (call.fault !== undefined && call.api === 'getApiQuota') {
      const owner = owners.get(call.query.access_token ?? '');
      if (owner) {
        const hours = checkFaultHours.get(owner) ?? new Set<number>();
        hours.add(Math.floor(call.at / HOUR_MS));
        checkFaultHours.set(owner, hours);
      }
    }
    if (call.at < start) continue;
    if (call.errcode === 45009 && call.fault === undefined) {
      fail('our traffic never causes 45009', `${call.api} answered 45009 at ${iso(call.at)}`);
    }
    const key =
      call.api === 'api_component_token'
        ? 'component'
        : call.api === 'api_authorizer_token'
          ? String(appId)
          : undefined;
    if (key) count(perToken, key);
  }
  const faultsOn = (api: string) =>
    ledger.faults.get(day, api) + (day > 0 ? ledger.faults.get(day - 1, api) : 0);
  for (const [key, calls] of perToken) {
    const faults =
      key === 'component'
        ? faultsOn('api_component_token')
        : (renewalFaults.get(key) ?? 0) +
          faultsOn('api_component_token') +
          faultsOn('api_get_authorizer_list');
    const checks = checkFaultHours.get(key)?.size ?? 0;
    const events = ledger.events.get(day, key) + (day > 0 ? ledger.events.get(day - 1, key) : 0);
    const allowed =
      CADENCE_PER_DAY +
      ALLOWANCE_PER_FAULT * faults +
      ALLOWANCE_PER_CHECK_FAULT * checks +
      ALLOWANCE_PER_EVENT * events;
    if (calls > allowed) {
      fail(
        'calls per token-day within the cadence',
        `${key}: ${calls} renewals on day ${day} (allowed ${allowed}: cadence ${CADENCE_PER_DAY}, ${faults} faults, ${checks} check faults, ${events} events)`
      );
    }
  }
}

/** Which authorizer WeChat issued each access token to. */
function tokenOwners(simulator: WechatSimulator): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [appId, a] of simulator.state.authorizers) {
    for (const token of a.accessTokens.keys()) owners.set(token, appId);
  }
  return owners;
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

/**
 * An event-loop stall this long during a get-token call means the host gave the process no CPU for half the
 * time the handler keeps to answer (`ANSWER_RESERVE_MS`): a late answer then says nothing about the
 * service. Seen on shared 2-core machines running several simulations beside other work.
 */
export const STARVED_MS = 500;

/**
 * A get-token answer came in time and is a token with a future promise, or a documented code. A late
 * answer while the process was starved of CPU (`stalledMs` ≥ `STARVED_MS`) is the host's, not the
 * service's: it is answered `{ code: 'host_starved' }`, counted, and used for nothing.
 */
export function checkAnswer(
  answer: Record<string, unknown>,
  elapsedMs: number,
  now: number,
  stalledMs = 0
): { accessToken: string; expiresAt: number } | { code: string } {
  const late = answer.functionError === 'TimeoutError' || elapsedMs > GET_TOKEN_TIMEOUT_MS;
  if (late && stalledMs >= STARVED_MS) return { code: 'host_starved' };
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
