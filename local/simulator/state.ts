import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock';
import type { SimulatedApi } from './caller-paths';
import { CallerState } from './callers';
import { ApiFailure, fail } from './errcodes';
import { deadline, statusAt, type TokenRecord } from './lifetimes';
import {
  beijingDay,
  PER_AUTHORIZER_QUOTA,
  PER_TOKEN_OWNER_QUOTA,
  QUOTA_VARIANTS,
  type Rules,
} from './rules';
import type { AccountType, CustomMessageRecord, SimulatorState, TokenStatus } from './types';

/**
 * The simulated WeChat's data and rules, without HTTP: the caller whitelist, tickets, tokens and their
 * lifetimes, codes, authorizations, daily quotas; the callers' side (followers, login codes, JS-SDK
 * tickets) is in {@link CallerState}. Operations throw `ApiFailure` with the errcode WeChat answers.
 *
 * @see ../../docs/wechat-protocol.md §1, §7 and §11
 */

const SECOND = 1000;
/** Dead tokens are kept this long (for {@link WechatState.tokenValidAt}) before pruning. */
const TOKEN_RETENTION_MS = 7 * 86_400_000;
const PRUNE_ABOVE = 1000;
/** The characters tokens are made of (base64url, like WeChat's); any other marks a malformed token. */
const TOKEN_SHAPE = /^[\w-]+$/;
/** The permission sets (权限集) granted when a test or a link names none. */
export const DEFAULT_FUNC_IDS: readonly number[] = [1, 2, 3];

const b64url = (bytes: number) => randomBytes(bytes).toString('base64url');
const seconds = (ms: number) => Math.floor(ms / SECOND);

/** An authorization as the state keeps it (see `AuthorizerView`). */
export interface AuthorizerRecord {
  refreshToken: string;
  previousRefreshToken?: { value: string; until: number };
  accessTokens: Map<string, TokenRecord>;
  funcIds: number[];
  active: boolean;
  authTime: number;
  userName: string;
  nickName: string;
  accountType: AccountType;
  apiPermission: boolean;
  listedWithoutRefreshToken: boolean;
}

/** An auth code: single use, `codeTtlSeconds`, tied to the pre_auth_code that produced it. */
export interface AuthCodeRecord {
  authorizerAppId: string;
  expiresAt: number;
  used: boolean;
  preAuthCode: string;
  /** The authorizer_access_token api_query_auth issued for this code (none without API permission). */
  accessToken?: string;
}

/** A pre_auth_code: single use, `codeTtlSeconds`. */
export interface PreAuthCodeRecord {
  issuedAt: number;
  expiresAt: number;
  used: boolean;
}

/** What api_query_auth hands out; the tokens are absent for an account without API permission. */
export interface Exchange {
  authorizerAppId: string;
  funcIds: readonly number[];
  accessToken?: string;
  refreshToken?: string;
}

/** Whose token an access_token is: the platform's (component) or an authorizer's. */
export type TokenOwner = { kind: 'component' } | { kind: 'authorizer'; authorizerAppId: string };

/** WeChat's state for one platform, read through the simulator's clock and rules. */
export class WechatState implements SimulatorState {
  readonly tickets = new Map<string, { createdAt: number }>();
  latestTicket: string | undefined;
  readonly componentTokens = new Map<string, TokenRecord>();
  readonly preAuthCodes = new Map<string, PreAuthCodeRecord>();
  readonly authCodes = new Map<string, AuthCodeRecord>();
  readonly authorizers = new Map<string, AuthorizerRecord>();
  pushesStopped = false;
  /** false: our egress IP is off the platform's whitelist, every API answers 61004 (`setWhitelisted`). */
  whitelisted = true;
  /**
   * The source addresses the platform's whitelist holds (`SimulatorOptions.whitelist`), normalized
   * (`::ffff:127.0.0.2` → `127.0.0.2`); undefined: any source address is accepted.
   */
  whitelist: ReadonlySet<string> | undefined;
  eventUrl: string | undefined;
  /** The message URL template, with `$APPID$` for the authorizer's appid (protocol §13). */
  messageUrl: string | undefined;
  /** Customer-service messages WeChat accepted (`/cgi-bin/message/custom/send`), oldest first. */
  readonly customMessages: CustomMessageRecord[] = [];
  /** The callers' side: followers, mini program login codes, JS-SDK tickets. */
  readonly callers: CallerState;

  /** Every authorizer access token and its authorizer, for lookups by value. */
  readonly #authorizerTokens = new Map<string, { appId: string; token: TokenRecord }>();
  /** Calls per `day|api|authorizer appid` (appid empty for platform quotas). */
  readonly #quota = new Map<string, number>();

  constructor(
    readonly platform: { readonly componentAppId: string; readonly componentAppSecret: string },
    readonly rules: Rules,
    readonly clock: Clock
  ) {
    this.callers = new CallerState(rules, clock);
  }

  // --- the caller's IP (protocol §7.1, §11.13) ---------------------------------------------------------

  /**
   * Every API's first check, before the method and the token: 61004 `access clientip is not registered
   * requestIP: …` when our egress IP is off the list (`whitelisted` false; the errmsg shows the simulator's
   * `egressIp`), or when a whitelist of addresses is set and `clientIp` (the socket's remote address,
   * normalized) is not on it (the errmsg shows that address, as WeChat shows the IP it saw).
   */
  checkClientIp(clientIp: string): void {
    if (!this.whitelisted) fail(61004);
    if (this.whitelist && !this.whitelist.has(normalizeIp(clientIp))) {
      throw new ApiFailure(61004, undefined, normalizeIp(clientIp));
    }
  }

  // --- tickets and the component token -----------------------------------------------------------------

  mintTicket(): string {
    const now = this.clock();
    if (this.tickets.size > 500) {
      for (const [key, t] of this.tickets) {
        if (now - t.createdAt > 4 * this.rules.ticketTtlMs) this.tickets.delete(key);
      }
    }
    const ticket = `ticket@@@${b64url(64)}`;
    this.tickets.set(ticket, { createdAt: now });
    this.latestTicket = ticket;
    return ticket;
  }

  /** 61006 for a ticket WeChat never pushed, 61005 once it is `ticketTtlMs` old. */
  checkTicket(ticket: string): void {
    const found = this.tickets.get(ticket);
    if (!found) fail(61006);
    if (this.clock() - found.createdAt >= this.rules.ticketTtlMs) fail(61005);
  }

  issueComponentToken(): string {
    const token = b64url(64);
    this.#issue(this.componentTokens, token);
    return token;
  }

  /** 41001 missing, 61014 an authorizer token, 42001 expired, 40001 superseded, revoked or unknown. */
  checkComponentToken(token: string | undefined): void {
    if (!token) fail(41001);
    const found = this.componentTokens.get(token);
    if (!found && this.#authorizerTokens.has(token)) fail(61014);
    this.#accept(found);
  }

  /**
   * For the APIs that take either token (`getApiQuota`): 41001 missing, 40014 malformed, 42001 expired,
   * 40001 superseded, revoked (also by a re-authorization) or unknown. Returns whose token it is.
   */
  checkAccessToken(token: string | undefined): TokenOwner {
    if (!token) fail(41001);
    if (!TOKEN_SHAPE.test(token)) fail(40014);
    const authorizer = this.#authorizerTokens.get(token);
    if (authorizer) {
      this.#accept(authorizer.token);
      return { kind: 'authorizer', authorizerAppId: authorizer.appId };
    }
    this.#accept(this.componentTokens.get(token));
    return { kind: 'component' };
  }

  /**
   * For the APIs an authorizer's token calls (the callers' APIs): {@link checkAccessToken}'s verdicts,
   * and 48001 `api unauthorized` for the component token (the platform's own account has none of these
   * APIs). Returns the authorizer's appid.
   */
  checkAuthorizerToken(token: string | undefined): string {
    const owner = this.checkAccessToken(token);
    if (owner.kind !== 'authorizer') fail(48001, 'a component token cannot call an authorizer API');
    return owner.authorizerAppId;
  }

  /** 42001 once the token expired, 40001 when it is superseded, revoked or unknown. */
  #accept(token: TokenRecord | undefined): void {
    const status = statusAt(token, this.clock(), this.rules);
    if (status === 'expired') fail(42001);
    if (status !== 'valid') fail(40001);
  }

  // --- codes and authorizations ------------------------------------------------------------------------

  mintPreAuthCode(used = false): string {
    const now = this.clock();
    const code = `preauthcode@@@${b64url(48)}`;
    this.preAuthCodes.set(code, { issuedAt: now, expiresAt: this.#codeExpiry(now), used });
    return code;
  }

  /** Why a pre_auth_code cannot start an authorization, or undefined when it can. */
  preAuthCodeProblem(code: string): 'unknown' | 'used' | 'expired' | undefined {
    const found = this.preAuthCodes.get(code);
    if (!found) return 'unknown';
    if (found.used) return 'used';
    return this.clock() >= found.expiresAt ? 'expired' : undefined;
  }

  consumePreAuthCode(code: string): void {
    const found = this.preAuthCodes.get(code);
    if (found) found.used = true;
  }

  /**
   * The merchant confirms: a new refresh token (the previous one dies at once, [S8]); on a re-authorization
   * the previous access tokens die too when the rules say so. With `keepTokens`, an authorized merchant's
   * permission change is the other answer to protocol §11.12 (no source settles it): the refresh token and
   * the access tokens stay, only the permission sets and the authorization time change. Returns the new
   * auth code.
   */
  authorize(
    authorizerAppId: string,
    funcIds: readonly number[],
    preAuthCode: string,
    opts: AuthorizeOptions = {}
  ): string {
    const now = this.clock();
    const existing = this.authorizers.get(authorizerAppId);
    const accountType = opts.accountType ?? existing?.accountType ?? 'official_account';
    const authorizer: AuthorizerRecord = existing ?? {
      refreshToken: '',
      accessTokens: new Map(),
      funcIds: [],
      active: false,
      authTime: 0,
      userName: opts.userName ?? originalId(authorizerAppId),
      nickName: `${accountType === 'mini_program' ? '模拟小程序' : '模拟公众号'} ${authorizerAppId.slice(-4)}`,
      accountType,
      apiPermission: true,
      listedWithoutRefreshToken: false,
    };
    authorizer.accountType = accountType;
    if (opts.userName) authorizer.userName = opts.userName;
    const update =
      opts.keepTokens === true && authorizer.active && authorizer.apiPermission && !!existing;
    if (!update) {
      if (authorizer.active && this.rules.reauthorizationKillsAccessTokens) {
        this.#kill(authorizer, now);
      }
      authorizer.apiPermission = opts.apiPermission ?? true;
      authorizer.refreshToken = authorizer.apiPermission ? newRefreshToken() : '';
      delete authorizer.previousRefreshToken;
    }
    authorizer.funcIds = [...new Set(funcIds)];
    authorizer.active = true;
    authorizer.authTime = seconds(now);
    this.authorizers.set(authorizerAppId, authorizer);
    return this.#mintAuthCode(authorizerAppId, preAuthCode, now);
  }

  /**
   * A new auth code for an active authorization, without authorizing again (the refresh and access tokens
   * stay): the `query_auth_code` the release check hands the platform in a message (protocol §13).
   *
   * @throws Error when the account has no active authorization.
   */
  mintAuthCode(authorizerAppId: string): string {
    if (!this.authorizers.get(authorizerAppId)?.active) {
      throw new Error(`no active authorization for ${authorizerAppId}`);
    }
    return this.#mintAuthCode(authorizerAppId, '', this.clock());
  }

  #mintAuthCode(authorizerAppId: string, preAuthCode: string, now: number): string {
    const code = `queryauthcode@@@${b64url(48)}`;
    this.authCodes.set(code, {
      authorizerAppId,
      expiresAt: this.#codeExpiry(now),
      used: false,
      preAuthCode,
    });
    return code;
  }

  /** api_query_auth: single use (61009), `codeTtlSeconds` (61010); tokens only with API permission. */
  exchangeAuthCode(code: string): Exchange {
    const found = this.authCodes.get(code);
    if (!found || found.used) fail(61009);
    if (this.clock() >= found.expiresAt) fail(61010);
    const authorizer = this.authorizers.get(found.authorizerAppId);
    if (!authorizer?.active) fail(61009);
    found.used = true;
    const exchange: Exchange = {
      authorizerAppId: found.authorizerAppId,
      funcIds: authorizer.funcIds,
    };
    if (authorizer.apiPermission) {
      exchange.accessToken = this.#issueAccessToken(found.authorizerAppId, authorizer);
      exchange.refreshToken = authorizer.refreshToken;
      found.accessToken = exchange.accessToken;
    }
    return exchange;
  }

  /**
   * api_authorizer_token: `revokedRefreshErrcode` without an authorization, 61023 for any refresh token
   * but the current one (or the rotated-away one within its grace).
   */
  refreshAuthorizerToken(
    authorizerAppId: string,
    refreshToken: string
  ): { accessToken: string; refreshToken: string } {
    const authorizer = this.authorizers.get(authorizerAppId);
    if (!authorizer?.active) fail(this.rules.revokedRefreshErrcode);
    const now = this.clock();
    const previous = authorizer.previousRefreshToken;
    const current = refreshToken !== '' && refreshToken === authorizer.refreshToken;
    const inGrace = previous?.value === refreshToken && now < previous.until;
    if (!current && !inGrace) fail(61023);
    if (current && this.rules.rotateRefreshTokenOnRefresh) {
      authorizer.previousRefreshToken = {
        value: authorizer.refreshToken,
        until: now + this.rules.supersededGraceMs,
      };
      authorizer.refreshToken = newRefreshToken();
    }
    return {
      accessToken: this.#issueAccessToken(authorizerAppId, authorizer),
      refreshToken: authorizer.refreshToken,
    };
  }

  #listPageHook: (() => void) | undefined;

  /** Runs once, right before the next list page after the first is read (see `beforeNextListPage`). */
  setListPageHook(hook: () => void): void {
    this.#listPageHook = hook;
  }

  takeListPageHook(): (() => void) | undefined {
    const hook = this.#listPageHook;
    this.#listPageHook = undefined;
    return hook;
  }

  /** Active authorizers in authorization order, as api_get_authorizer_list pages them. */
  listed(): [string, AuthorizerRecord][] {
    return [...this.authorizers].filter(([, a]) => a.active);
  }

  listedRefreshToken(authorizerAppId: string): string | undefined {
    const authorizer = this.authorizers.get(authorizerAppId);
    if (!authorizer?.active) return undefined;
    return authorizer.listedWithoutRefreshToken ? '' : authorizer.refreshToken;
  }

  /** The active authorization, or 61003 "component is not authorized by this account" (§3, [S43][S70]). */
  activeAuthorizer(authorizerAppId: string): AuthorizerRecord {
    const authorizer = this.authorizers.get(authorizerAppId);
    if (!authorizer?.active) fail(61003);
    return authorizer;
  }

  /** Ends the authorization: its access tokens and unexchanged codes die at once. False if none was active. */
  revoke(authorizerAppId: string): boolean {
    const authorizer = this.authorizers.get(authorizerAppId);
    if (!authorizer) return false;
    const wasActive = authorizer.active;
    authorizer.active = false;
    delete authorizer.previousRefreshToken;
    this.#kill(authorizer, this.clock());
    for (const [code, record] of this.authCodes) {
      if (record.authorizerAppId === authorizerAppId) this.authCodes.delete(code);
    }
    return wasActive;
  }

  /** A WeChat-side change of the refresh token: the old one fails at once. */
  rotateRefreshToken(authorizerAppId: string): string {
    const authorizer = this.authorizers.get(authorizerAppId);
    if (!authorizer?.active || !authorizer.apiPermission) {
      throw new Error(`no active authorization with API permission for ${authorizerAppId}`);
    }
    authorizer.refreshToken = newRefreshToken();
    delete authorizer.previousRefreshToken;
    return authorizer.refreshToken;
  }

  setListedWithoutRefreshToken(authorizerAppId: string, on: boolean): void {
    const authorizer = this.authorizers.get(authorizerAppId);
    if (!authorizer) throw new Error(`no authorization for ${authorizerAppId}`);
    authorizer.listedWithoutRefreshToken = on;
  }

  // --- quotas ------------------------------------------------------------------------------------------

  /**
   * Counts one call against today's quota of `api`; 45009 (not counted) once the limit is reached.
   * `authorizerAppId` names the quota's owner for the APIs not counted per platform; `variant` counts
   * separately within it (getticket's `type`: each ticket type has its own count and limit).
   */
  countCall(api: SimulatedApi, authorizerAppId?: string, variant = ''): void {
    const key = this.#quotaKey(api, this.clock(), authorizerAppId) + variant;
    const used = this.#quota.get(key) ?? 0;
    if (used >= this.rules.dailyQuota[api]) fail(45009);
    this.#quota.set(key, used + 1);
  }

  /**
   * Calls counted today: for a per-authorizer API without `authorizerAppId` all authorizers together; for
   * a per-token-owner API without it the platform's own. Without `variant`, all variants together.
   */
  quotaUsed(
    api: SimulatedApi,
    authorizerAppId?: string,
    at = this.clock(),
    variant?: string
  ): number {
    if (!PER_AUTHORIZER_QUOTA.has(api) || authorizerAppId !== undefined) {
      const owner = this.#quotaKey(api, at, authorizerAppId);
      const variants = variant === undefined ? (QUOTA_VARIANTS[api] ?? ['']) : [variant];
      return variants.reduce((total, v) => total + (this.#quota.get(owner + v) ?? 0), 0);
    }
    return this.#sum(`${beijingDay(at)}|${api}|`);
  }

  /** The most calls of a per-authorizer API any one authorizer made today (0 for none). */
  busiestQuotaUsed(api: SimulatedApi, at = this.clock()): number {
    const prefix = `${beijingDay(at)}|${api}|`;
    const counts = [...this.#quota].filter(([key]) => key.startsWith(prefix)).map(([, n]) => n);
    return Math.max(0, ...counts);
  }

  #sum(prefix: string): number {
    let total = 0;
    for (const [key, count] of this.#quota) if (key.startsWith(prefix)) total += count;
    return total;
  }

  /** `day|api|owner|`; the variant (if any) follows. The owner is empty for platform quotas. */
  #quotaKey(api: SimulatedApi, at: number, authorizerAppId = ''): string {
    const perAuthorizer =
      PER_AUTHORIZER_QUOTA.has(api) && this.rules.authorizerTokenQuota === 'per_authorizer';
    const owned = perAuthorizer || PER_TOKEN_OWNER_QUOTA.has(api);
    return `${beijingDay(at)}|${api}|${owned ? authorizerAppId : ''}|`;
  }

  // --- token inspection --------------------------------------------------------------------------------

  #find(token: string): TokenRecord | undefined {
    return this.componentTokens.get(token) ?? this.#authorizerTokens.get(token)?.token;
  }

  tokenStatus(token: string, at = this.clock()): TokenStatus {
    return statusAt(this.#find(token), at, this.rules);
  }

  tokenValidAt(token: string, at: number): boolean {
    return this.tokenStatus(token, at) === 'valid';
  }

  // --- internals ---------------------------------------------------------------------------------------

  #codeExpiry(now: number): number {
    return now + this.rules.codeTtlSeconds * SECOND;
  }

  #issueAccessToken(appId: string, authorizer: AuthorizerRecord): string {
    const token = b64url(80);
    this.#issue(authorizer.accessTokens, token);
    this.#authorizerTokens.set(token, {
      appId,
      token: authorizer.accessTokens.get(token) as TokenRecord,
    });
    return token;
  }

  /** Issues `value`; every older token of the map starts its transition. Prunes long-dead ones. */
  #issue(tokens: Map<string, TokenRecord>, value: string): void {
    const now = this.clock();
    for (const token of tokens.values()) token.supersededAt ??= now;
    if (tokens.size > PRUNE_ABOVE) {
      for (const [key, token] of tokens) {
        if (deadline(token, this.rules) < now - TOKEN_RETENTION_MS) {
          tokens.delete(key);
          this.#authorizerTokens.delete(key);
        }
      }
    }
    tokens.set(value, {
      issuedAt: now,
      expiresAt: now + this.rules.tokenTtlSeconds * SECOND,
    });
  }

  #kill(authorizer: AuthorizerRecord, now: number): void {
    for (const token of authorizer.accessTokens.values()) token.revokedAt ??= now;
  }
}

const newRefreshToken = () => `refreshtoken@@@${b64url(32)}`;

/** How an authorization is given: see `WechatSimulator.authorize`. */
export interface AuthorizeOptions {
  apiPermission?: boolean;
  keepTokens?: boolean;
  /** Official account (the default) or mini program; kept on a re-authorization unless given. */
  accountType?: AccountType;
  /** The account's original id; derived from the appid when none is given. */
  userName?: string;
}

/**
 * The account's original id (原始ID, `user_name`, the `ToUserName` of its messages): `gh_` and 12 hex
 * digits, derived from the appid so that the same account has the same id in every run.
 */
export function originalId(authorizerAppId: string): string {
  return `gh_${createHash('sha256').update(authorizerAppId).digest('hex').slice(0, 12)}`;
}

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.2`) as the IPv4 address it carries. */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped ? (mapped[1] as string) : ip;
}
