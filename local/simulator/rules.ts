import type { EpochMs } from '../../shared/clock';
import { type SimulatedApi, TICKET_TYPES } from './caller-paths';

/**
 * The rules of real WeChat the simulator enforces, each one switchable so a test can show what a lenient
 * WeChat would hide. The defaults are as strict as WeChat (wechat-protocol.md §11).
 *
 * @see ../../docs/wechat-protocol.md §7 and §11
 */
export interface SimulatorRules {
  /**
   * How long a superseded token (component or authorizer) is still accepted after a newer one of the same
   * kind is issued. WeChat: 5 minutes (§7.2, [S38][S84][S85]). `Infinity` = never superseded.
   */
  supersededGraceMs: number;
  /** Whether tokens die at their `expires_in` (§1). `false` = they never expire. */
  tokensExpire: boolean;
  /** The `expires_in` of component and authorizer access tokens, in seconds (§2.2, §2.5: 7200). */
  tokenTtlSeconds: number;
  /**
   * A re-authorization kills the authorizer's previous access tokens at once instead of letting them live
   * out their 5 minutes (§11.1, wxcloudrun-wxcomponent issue 10). Its refresh token always changes (§7.3).
   */
  reauthorizationKillsAccessTokens: boolean;
  /**
   * What `api_authorizer_token` answers for an appid that has no authorization (revoked or never given):
   * 61003 "component is not authorized by this account" (§11.4, WxJava issue 851) or 61023.
   */
  revokedRefreshErrcode: 61003 | 61023;
  /**
   * Whether `api_authorizer_token` answers a NEW refresh token each time (§7.3 is disputed: [S89] says it
   * never changes, [S90] says save the new one). When it rotates, the previous one still works for
   * `supersededGraceMs`, then answers 61023.
   */
  rotateRefreshTokenOnRefresh: boolean;
  /** How long a `component_verify_ticket` mints tokens (§1: 12 h); older ones answer 61005. */
  ticketTtlMs: number;
  /** Lifetime of pre_auth_codes and auth codes in seconds (§1, §6.5: 600). */
  codeTtlSeconds: number;
  /**
   * Calls per day (Beijing time) before 45009 "reach max api daily quota limit" (§7.4, §11.6). Merged over
   * {@link DEFAULT_DAILY_QUOTA}; `Infinity` lifts a limit. `api_authorizer_token` is counted per authorizer
   * appid (the merchant's own quota is consumed, [S20]); `getApiQuota` per account whose token calls it;
   * the callers' authorizer-token APIs per authorizer (`getTicket` per authorizer and ticket type); every
   * other API per platform.
   */
  dailyQuota: Partial<Record<SimulatedApi, number>>;
  /**
   * Whose quota `api_authorizer_token` spends: the authorizer's (the default, [S20]) or the platform's
   * (no source settles it, §11.12: a platform with many merchants then meets 45009 far sooner).
   */
  authorizerTokenQuota: 'per_authorizer' | 'per_platform';
  /**
   * How far WeChat's clock is from ours, in ms (§11.8): pushes' `CreateTime`, `auth_time` and token lives
   * are WeChat's time. 0: the same clock.
   */
  clockSkewMs: number;
  /**
   * WeChat sends a push again when it got no `success` within 5 seconds (or no answer at all), up to
   * three deliveries in all (§11.9); retries come later, after newer pushes.
   */
  retryUnansweredPushes: boolean;
  /**
   * How long after a follower's last message an official account may send it customer-service messages
   * (`/cgi-bin/message/custom/send`): 48 hours, then 45015 `response out of time limit or subscription is
   * canceled`. `Infinity` lifts the window.
   */
  customerServiceWindowMs: number;
}

/**
 * Daily limits. WeChat publishes no numbers (only getApiQuota knows, [S23]); these are the simulator's:
 * - `api_component_token` 10 000: the one figure a user reported from getApiQuota ([S47], §7.4);
 * - `api_authorizer_token` 2 000 per authorizer: undocumented [S10][S11]; the official-account
 *   access_token's documented daily limit (2 000, same token family per §7.2) is the closest published figure;
 * - every other component API 10 000 per platform, as for the component token;
 * - `getApiQuota` 10 000 per account (the platform for the component token, each authorizer for its own
 *   token): its page says only that every API is limited [S23]; the simulator's usual figure;
 * - `getTicket` 100 000 per authorizer and ticket type: the doc says only that the calls are "very
 *   limited" [S112]; the simulator's figure, high enough for any caller that caches its ticket (lower it
 *   in a test to meet 45009);
 * - `getUserInfo` 5 000 000 and `sendCustomMessage` 500 000 per authorizer: a new service account's
 *   published daily limits [S103];
 * - `getUnlimitedQRCode` 7 200 000 per authorizer: its page gives only 5 000 a minute (not modelled),
 *   so a day of that;
 * - `thirdpartyCode2Session` 1 000 000 per platform: its page gives only a per-minute limit (45011, not
 *   modelled); the simulator's figure.
 */
export const DEFAULT_DAILY_QUOTA: Readonly<Record<SimulatedApi, number>> = {
  api_start_push_ticket: 10_000,
  api_component_token: 10_000,
  api_create_preauthcode: 10_000,
  api_query_auth: 10_000,
  api_authorizer_token: 2_000,
  api_get_authorizer_list: 10_000,
  api_get_authorizer_info: 10_000,
  getApiQuota: 10_000,
  getTicket: 100_000,
  getUserInfo: 5_000_000,
  sendCustomMessage: 500_000,
  getUnlimitedQRCode: 7_200_000,
  thirdpartyCode2Session: 1_000_000,
};

/** APIs whose quota belongs to the authorizer named in the body, not to the platform. */
export const PER_AUTHORIZER_QUOTA: ReadonlySet<SimulatedApi> = new Set(['api_authorizer_token']);

/**
 * APIs whose quota belongs to the account whose token calls them: the platform for the component token, the
 * authorizer for its authorizer_access_token (a call on the merchant's behalf spends its quota, [S20]).
 */
export const PER_TOKEN_OWNER_QUOTA: ReadonlySet<SimulatedApi> = new Set([
  'getApiQuota',
  'getTicket',
  'getUserInfo',
  'sendCustomMessage',
  'getUnlimitedQRCode',
]);

/** APIs counted apart per variant within each owner's quota: getticket per ticket `type`. */
export const QUOTA_VARIANTS: Readonly<Partial<Record<SimulatedApi, readonly string[]>>> = {
  getTicket: TICKET_TYPES,
};

/** WeChat's rules as documented (wechat-protocol.md §1, §7, §11); the simulator's defaults. */
export const DEFAULT_RULES: Readonly<SimulatorRules> = {
  supersededGraceMs: 300_000,
  tokensExpire: true,
  tokenTtlSeconds: 7200,
  reauthorizationKillsAccessTokens: true,
  revokedRefreshErrcode: 61003,
  rotateRefreshTokenOnRefresh: false,
  ticketTtlMs: 12 * 3600_000,
  codeTtlSeconds: 600,
  dailyQuota: DEFAULT_DAILY_QUOTA,
  authorizerTokenQuota: 'per_authorizer',
  clockSkewMs: 0,
  retryUnansweredPushes: true,
  customerServiceWindowMs: 48 * 3600_000,
};

/** Resolved rules: every field set, quotas complete. */
export type Rules = Readonly<Omit<SimulatorRules, 'dailyQuota'>> & {
  readonly dailyQuota: Readonly<Record<SimulatedApi, number>>;
};

/** The defaults with `overrides` on top; `dailyQuota` is merged API by API. */
export function resolveRules(overrides: Partial<SimulatorRules> = {}): Rules {
  return {
    ...DEFAULT_RULES,
    ...overrides,
    dailyQuota: { ...DEFAULT_DAILY_QUOTA, ...overrides.dailyQuota },
  };
}

const DAY_MS = 86_400_000;
/** China Standard Time (UTC+8, no daylight saving): WeChat's quotas reset at its midnight. */
const BEIJING_OFFSET_MS = 8 * 3600_000;

/** The Beijing-time calendar day of `at`, as `YYYY-MM-DD`. */
export function beijingDay(at: EpochMs): string {
  const day = Math.floor((at + BEIJING_OFFSET_MS) / DAY_MS);
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
