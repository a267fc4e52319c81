import type { EpochMs } from '../clock';
import {
  AuthCodeExpiredError,
  ConcurrentUpdateError,
  EmptyCredentialError,
  errorCode,
  isUncertainOutcome,
  ServiceError,
  WechatApiError,
} from '../errors';
import { authorizationEventOf, settlePendingEvents } from '../events/outbox';
import { MetricName } from '../log';
import {
  AUTH_CODE_PUSH_WAIT_MS,
  AUTH_CODE_RETRY_MS,
  LEASE_MS,
  LEASE_POLL_MS,
  refreshAtFor,
  SUCCESSION_ATTEMPTS,
  SUPERSEDED_OVERLAP_MS,
} from '../policy';
import { type DescribedAuthorization, readAuthorization } from '../serving/authorizer-list';
import { storedTokenMayLive } from '../serving/check-reported-token';
import { fallbackToken } from '../serving/servable-token';
import { holdingLease, refreshUnderLease } from '../serving/single-flight';
import { succession } from '../serving/succession';
import { withComponentToken } from '../serving/with-component-token';
import type { AuthCodeRecord, AuthorizerRecord } from '../store/token-store';
import type { TokenContext } from '../token-context';
import { permissionIds } from '../wechat/permissions';
import { reconcileAndRecord, reconciledSince } from './reconcile-runs';

export interface ReceivedAuthCode {
  code: string;
  source: 'redirect' | 'push';
  /** After it WeChat rejects the code (61010). */
  expiresAt: EpochMs;
  /** When the authorization was made: the push's CreateTime, or when the redirect arrived. */
  receivedAt: EpochMs;
  /** Known from the push; the redirect learns it from `api_query_auth`. */
  authorizerAppId?: string;
}

export type ExchangeResult =
  | { status: 'exchanged'; authorizerAppId: string }
  /** Stored and still pending (another exchange is in flight, or WeChat failed transiently). */
  | { status: 'pending' }
  /**
   * Settled by a reconciliation that stored every authorizer WeChat lists (the code's outcome was
   * uncertain and no push named its authorizer): the authorization is stored, which one it was is unknown.
   */
  | { status: 'recovered' };

/** A pending code whose outcome is still being recovered (see `recoverOutcome`); retried shortly. */
class RecoveryPendingError extends ServiceError {
  override readonly name = 'RecoveryPendingError';
  readonly code = 'auth_code_recovery_pending';
  override readonly retryable = true;
}

/** The error code of a redirect's code held for the push (see `AwaitingPushError`). */
export const AWAITING_PUSH = 'auth_code_awaiting_push';

/**
 * A redirect's code held until the `authorized` push names its authorizer (`exchange`); nothing was sent to
 * WeChat, so unlike {@link RecoveryPendingError} it leaves the code certain.
 */
class AwaitingPushError extends ServiceError {
  override readonly name = 'AwaitingPushError';
  readonly code = AWAITING_PUSH;
  override readonly retryable = true;
}

interface Granted {
  authorizerAppId: string;
  accessToken?: string;
  expiresIn?: number;
  refreshToken?: string;
  funcInfo: number[];
}

/** A token as an authorization stores it, with the window in which WeChat issued it. */
interface StoredToken {
  accessToken: string;
  expiresAt: number;
  refreshAt?: number;
  issuedAt: number;
  requestedAt: number;
}

function issuedToken(granted: Granted, requestedAt: number, now: number): StoredToken | undefined {
  if (!granted.accessToken || !granted.expiresIn) return undefined;
  const expiresAt = now + granted.expiresIn * 1000;
  return {
    accessToken: granted.accessToken,
    expiresAt,
    refreshAt: refreshAtFor(now, expiresAt),
    issuedAt: now,
    requestedAt,
  };
}

function storedToken(record: AuthorizerRecord | undefined): StoredToken | undefined {
  if (record?.status !== 'active' || !record.accessToken || record.expiresAt === undefined) {
    return undefined;
  }
  const issuedAt = record.issuedAt ?? record.updatedAt;
  return {
    accessToken: record.accessToken,
    expiresAt: record.expiresAt,
    refreshAt: record.refreshAt,
    issuedAt,
    requestedAt: record.requestedAt ?? issuedAt,
  };
}

/**
 * The token an authorization stores over `current` (architecture §3). A different refresh token means a
 * re-authorization, which ended the stored token at WeChat: the incoming one (or none, renewed at once),
 * unless WeChat's answer brought no token and the stored one was checked and not found dead
 * (`storedMayLive`: a permission change that kept the tokens, the refresh token rotated meanwhile, protocol
 * §11.12). The same refresh token means the same authorization met by two flows (a push and a renewal, an
 * import and a late code): the stored token is kept when WeChat's answer brought none (a recovery), else
 * the newer of the two stays (`succession`), capped and renewed at once when either may be the newer. A
 * recovery after an exchange that may have minted a token unseen (`mintedSince`: its answer lost, or -1)
 * keeps the stored token only until 5 minutes after that attempt, and renews it at once.
 */
export function tokenForAuthorization(
  current: AuthorizerRecord | undefined,
  incoming: StoredToken | undefined,
  refreshToken: string | undefined,
  now: number,
  options: { mintedSince?: number; storedMayLive?: boolean } = {}
): StoredToken | undefined {
  const { mintedSince, storedMayLive = false } = options;
  const stored = storedToken(current);
  if (!stored || !refreshToken) return incoming;
  if (current?.refreshToken !== refreshToken && !(incoming === undefined && storedMayLive)) {
    return incoming;
  }
  if (!incoming) {
    if (mintedSince === undefined) return stored;
    // The unseen token was issued, if at all, while that attempt ran (under the code's lease).
    const unseen = { accessToken: '', requestedAt: mintedSince, issuedAt: mintedSince + LEASE_MS };
    if (succession(stored, unseen).keep === 'stored') return stored;
    const capAt = mintedSince + SUPERSEDED_OVERLAP_MS;
    return { ...stored, expiresAt: Math.min(stored.expiresAt, capAt), refreshAt: now };
  }
  const decision = succession(stored, incoming);
  if (decision.keep === 'incoming') return incoming;
  if (!('capAt' in decision)) return stored;
  return { ...stored, expiresAt: Math.min(stored.expiresAt, decision.capAt), refreshAt: now };
}

/**
 * Stores a granted authorization (or one without API permission) and settles the code. The write is
 * decided on the record as read and made only on that version: when another writer (a renewal, an import,
 * the other channel's exchange) moved it meanwhile, it is read and decided again.
 */
async function storeAuthorization(
  ctx: TokenContext,
  record: AuthCodeRecord,
  owner: string,
  granted: Granted,
  how: 'exchanged' | 'recovered',
  requestedAt: number,
  mintedSince?: number
): Promise<AuthCodeRecord> {
  const now = ctx.clock();
  const incoming = issuedToken(granted, requestedAt, now);
  // WeChat's event times are whole seconds: compare on that grain, so that an `unauthorized` push in the
  // same second as the authorization is not mistaken for an older event.
  const authorizedAt = Math.floor(record.receivedAt / 1000) * 1000;
  let saved = false;
  let previous: AuthorizerRecord | undefined;
  /** The stored token checked with WeChat, once: the one the verdict is about. */
  let checked: { accessToken: string; mayLive: boolean } | undefined;
  for (let attempt = 0; !saved; attempt++) {
    if (attempt === SUCCESSION_ATTEMPTS) {
      throw new ConcurrentUpdateError(
        'the authorizer record kept moving while an authorization was stored'
      );
    }
    previous = await ctx.store.getAuthorizer(ctx.componentAppId, granted.authorizerAppId);
    if (previous && previous.authorizedAt > authorizedAt) break;
    const rotated =
      !incoming &&
      granted.refreshToken !== undefined &&
      previous?.status === 'active' &&
      previous.accessToken !== undefined &&
      previous.refreshToken !== granted.refreshToken;
    if (rotated && checked?.accessToken !== previous?.accessToken) {
      checked = {
        accessToken: previous?.accessToken as string,
        mayLive: await storedTokenMayLive(ctx, previous),
      };
    }
    const token = tokenForAuthorization(previous, incoming, granted.refreshToken, now, {
      mintedSince,
      storedMayLive: rotated && checked?.mayLive === true,
    });
    const event = authorizationEventOf(ctx, previous, granted, {
      at: record.receivedAt,
      reason: record.source,
    });
    saved = await ctx.store.saveAuthorization(
      {
        componentAppId: record.componentAppId,
        authorizerAppId: granted.authorizerAppId,
        expectedVersion: previous?.version ?? 0,
        accessToken: token?.accessToken,
        expiresAt: token?.expiresAt,
        issuedAt: token?.issuedAt,
        requestedAt: token?.requestedAt,
        refreshToken: granted.refreshToken,
        funcInfo: granted.funcInfo,
        refreshAt: token?.refreshAt ?? now,
        authorizedAt,
        event,
      },
      now
    );
  }
  if (saved) await settlePendingEvents(ctx, granted.authorizerAppId);
  ctx.metrics.count(MetricName.AuthorizationCompleted);
  ctx.log.info(
    granted.refreshToken
      ? `authorization ${how} and stored`
      : `authorization ${how}; the account has no API permission, so WeChat issued no token`,
    {
      authorizerAppId: granted.authorizerAppId,
      source: record.source,
      permissions: granted.funcInfo.join(','),
    }
  );
  return ctx.store.finishAuthCode(
    record.componentAppId,
    record.code,
    owner,
    { status: 'exchanged', authorizerAppId: granted.authorizerAppId },
    now
  );
}

/**
 * Whether the code's authorizer (known from the push) is active here with a token still promised to
 * callers: its code (an `updateauthorized` permission change, a late code of an authorization already
 * imported, a duplicate) is settled with `api_get_authorizer_info`, which mints nothing, rather than
 * exchanged (architecture §7: permission changes keep promises).
 */
async function holdsPromisedToken(
  ctx: TokenContext,
  authorizerAppId: string | undefined
): Promise<boolean> {
  if (!authorizerAppId) return false;
  const record = await ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId);
  return record?.status === 'active' && fallbackToken(record, ctx.clock()) !== undefined;
}

/**
 * The outcome of an exchange whose answer was lost, asked of WeChat instead of sending the single-use code
 * again (architecture §7, protocol §11.2): `api_get_authorizer_info` when the authorizer is known (from the
 * push), else, once the push had its chance, a reconciliation with `api_get_authorizer_list`.
 */
async function recoverOutcome(
  ctx: TokenContext,
  record: AuthCodeRecord,
  owner: string,
  mintedSince = mayHaveMintedSince(record)
): Promise<AuthCodeRecord> {
  const { componentAppId, code, authorizerAppId } = record;
  if (!authorizerAppId) {
    if (ctx.clock() < record.receivedAt + AUTH_CODE_PUSH_WAIT_MS) {
      const why = 'waiting for the authorized push to name the authorizer';
      throw mintedSince === undefined ? new AwaitingPushError(why) : new RecoveryPendingError(why);
    }
    const finish = (outcomeCode: string) =>
      ctx.store.finishAuthCode(
        componentAppId,
        code,
        owner,
        { status: 'exchanged', outcomeCode },
        ctx.clock()
      );
    if (await reconciledSince(ctx, record.receivedAt)) {
      return finish('recovered_by_reconciliation');
    }
    // Under the lease: as many list pages as fit; a platform too large for that is left to the
    // scheduled reconciliation, which imports the authorizer all the same.
    const summary = await reconcileAndRecord(ctx, {
      deadline: ctx.deadline ?? ctx.clock() + AUTH_CODE_PUSH_WAIT_MS,
      reserveMs: 0,
    });
    if (summary.failed > 0) {
      throw new RecoveryPendingError('WeChat could not describe every listed authorizer yet');
    }
    return finish(summary.truncated ? 'left_to_reconciliation' : 'recovered_by_reconciliation');
  }
  let described: DescribedAuthorization;
  try {
    described = await readAuthorization(ctx, authorizerAppId);
  } catch (error) {
    if (error instanceof WechatApiError && error.kind === 'not_authorized') {
      return finishFailed(ctx, record, owner, 'authorization_withdrawn');
    }
    throw error;
  }
  return storeAuthorization(
    ctx,
    record,
    owner,
    { authorizerAppId, ...described },
    'recovered',
    ctx.clock(),
    mintedSince
  );
}

/**
 * Since when an earlier exchange of this code may have minted a token we never saw: the attempt whose
 * answer was lost (or -1). Undefined: no `api_query_auth` may have acted unseen.
 */
function mayHaveMintedSince(record: AuthCodeRecord): number | undefined {
  return record.uncertainAt;
}

function finishFailed(
  ctx: TokenContext,
  record: AuthCodeRecord,
  owner: string,
  outcomeCode: string
): Promise<AuthCodeRecord> {
  return ctx.store.finishAuthCode(
    record.componentAppId,
    record.code,
    owner,
    { status: 'failed', outcomeCode },
    ctx.clock()
  );
}

/**
 * Exchanges the code with `api_query_auth`, at most once: the call is never retried after an answer was
 * lost (the code is single-use; `uncertainAt` is recorded and the outcome recovered instead). Only a code a
 * push named is exchanged, so a 61009 for it is recovered (an earlier attempt may have consumed it), and so
 * is a code that expired while WeChat was busy or unreachable.
 */
async function exchange(
  ctx: TokenContext,
  record: AuthCodeRecord,
  owner: string,
  attempt: Attempt,
  mintWhileHeld: boolean
) {
  if (record.uncertainAt !== undefined) return recoverOutcome(ctx, record, owner);
  if (!record.authorizerAppId) {
    // A redirect names no authorizer: the code may be an active merchant's permission change or
    // re-authorization, whose exchange would kill the tokens callers hold (protocol §11.12). It is held
    // until the push names the authorizer, then settled as a pushed code; without a push, the
    // authorization is read from WeChat's list, which mints nothing.
    return recoverOutcome(ctx, record, owner);
  }
  const { componentAppId, authorizerAppId } = record;
  // Exchanging mints the authorizer's token: under its lease, so no renewal mints one alongside and no
  // token is promised past what this one leaves it (architecture §3).
  return holdingLease(
    ctx,
    { kind: 'authorizer', componentAppId, authorizerAppId },
    () => ctx.store.getAuthorizer(componentAppId, authorizerAppId),
    (leaseCtx) => exchangeNamed(leaseCtx, record, owner, attempt, mintWhileHeld)
  );
}

/** `exchange` for a code whose authorizer is known, under the authorizer's lease. */
async function exchangeNamed(
  ctx: TokenContext,
  record: AuthCodeRecord,
  owner: string,
  attempt: Attempt,
  mintWhileHeld: boolean
) {
  if (!mintWhileHeld && (await holdsPromisedToken(ctx, record.authorizerAppId))) {
    // Exchanging would mint a token, which ends every token callers hold 5 minutes later (protocol
    // §11.12): the permissions and refresh token are read instead, and the code is left unused.
    return recoverOutcome(ctx, record, owner);
  }
  if (ctx.clock() >= record.expiresAt) {
    // WeChat never said no (only busy or unreachable so far) and a push named the authorizer: the
    // authorization exists; ask WeChat for it instead of losing it to the code's 10 minutes.
    return recoverOutcome(ctx, record, owner);
  }
  let answer: Awaited<ReturnType<TokenContext['api']['apiQueryAuth']>>;
  const requestedAt = ctx.clock();
  try {
    answer = await withComponentToken(ctx, (ct) => {
      attempt.queried = true;
      return ctx.api.apiQueryAuth(ct, record.code);
    });
  } catch (error) {
    if (error instanceof WechatApiError && error.kind === 'auth_code_invalid') {
      // No verdict for a code a push named: an earlier attempt may have consumed it (its answer lost, or
      // -1: protocol §11.10), and WeChat's own reading of the authorizer settles it either way.
      return recoverOutcome(
        ctx,
        record,
        owner,
        Math.min(mayHaveMintedSince(record) ?? requestedAt, requestedAt)
      );
    }
    if (error instanceof EmptyCredentialError && error.field === 'authorization_code') {
      return finishFailed(ctx, record, owner, 'auth_code_expired');
    }
    throw error;
  }
  const info = answer.authorization_info;
  return storeAuthorization(
    ctx,
    record,
    owner,
    {
      authorizerAppId: info.authorizer_appid,
      accessToken: info.authorizer_access_token,
      expiresIn: info.expires_in,
      refreshToken: info.authorizer_refresh_token,
      funcInfo: permissionIds(info.func_info),
    },
    'exchanged',
    requestedAt
  );
}

function settle(record: AuthCodeRecord | undefined): ExchangeResult {
  if (record?.status === 'exchanged' && record.authorizerAppId) {
    return { status: 'exchanged', authorizerAppId: record.authorizerAppId };
  }
  if (record?.status === 'failed') {
    throw new AuthCodeExpiredError('the authorization code expired or was already used');
  }
  return record?.status === 'exchanged' ? { status: 'recovered' } : { status: 'pending' };
}

/**
 * Stores an `authorization_code` (授权码) first, then exchanges it with `api_query_auth` exactly once, however
 * many times and by whichever path (redirect, `authorized` push, schedule) it arrives. The authorizer's
 * tokens and granted permission sets (`func_info`) are stored; a transient failure leaves the code pending
 * for the schedule until it expires.
 *
 * @throws AuthCodeExpiredError when WeChat says the code is expired or invalid (61010/61009), or it expired
 *   before it could be exchanged.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export async function exchangeAuthCode(
  ctx: TokenContext,
  received: ReceivedAuthCode,
  options: ExchangeOptions = { wait: true }
): Promise<ExchangeResult> {
  const { record } = await ctx.store.putAuthCode({
    componentAppId: ctx.componentAppId,
    ...received,
  });
  // A push for a code the redirect stored first names its authorizer: recovery needs it.
  const authorizerAppId = record.authorizerAppId ?? received.authorizerAppId;
  return exchangeStored(ctx, authorizerAppId ? { ...record, authorizerAppId } : record, options);
}

export interface ExchangeOptions {
  /** Wait for another exchange of the same code in flight (the redirect's page) rather than answer pending. */
  wait: boolean;
  /**
   * Exchange even when the authorizer holds a token callers were promised (which the exchange ends 5
   * minutes later, protocol §11.12): only for WeChat's release-check accounts, whose check demands the
   * exchange and which no caller uses.
   */
  mintWhileHeld?: boolean;
}

/** What one exchange attempt did: whether it sent the code to WeChat (`api_query_auth`). */
interface Attempt {
  queried: boolean;
}

const mayHaveActed = (error: unknown) =>
  isUncertainOutcome(error) ||
  error instanceof RecoveryPendingError ||
  error instanceof ConcurrentUpdateError;

async function exchangeStored(
  ctx: TokenContext,
  stored: AuthCodeRecord,
  options: ExchangeOptions
): Promise<ExchangeResult> {
  const { mintWhileHeld = false, ...leaseOptions } = options;
  let attempt: Attempt = { queried: false };
  const result = await refreshUnderLease(
    ctx,
    {
      ref: { kind: 'auth_code', componentAppId: ctx.componentAppId, code: stored.code },
      read: () => ctx.store.getAuthCode(ctx.componentAppId, stored.code),
      needsRefresh: (record) => record?.status === 'pending',
      refresh: async (record, owner, leaseCtx) => {
        attempt = { queried: false };
        return {
          record: await exchange(leaseCtx, record as AuthCodeRecord, owner, attempt, mintWhileHeld),
          saved: true,
        };
      },
      onFailure: (error, failedAt, claimedAt, record) => ({
        errorCode: errorCode(error),
        retryAt: failedAt + AUTH_CODE_RETRY_MS,
        // The code may have been consumed (an answer lost, or the authorization not stored after WeChat
        // answered): it is never sent again, its outcome is recovered instead. Only an attempt that sent
        // it can have: a recovery (api_get_authorizer_info, the list) that fails mints nothing.
        ...(record?.uncertainAt !== undefined
          ? { uncertainAt: record.uncertainAt }
          : attempt.queried && mayHaveActed(error)
            ? { uncertainAt: claimedAt }
            : {}),
        ...(record?.authorizerAppId ? { authorizerAppId: record.authorizerAppId } : {}),
      }),
    },
    { ...leaseOptions, firstRead: stored }
  );
  return settle(result.record);
}

/**
 * The code's outcome once another path settled it (the redirect's page waits for the push this way), or
 * `pending` at `until` (or the context's deadline, if sooner).
 */
export async function awaitAuthCode(
  ctx: TokenContext,
  code: string,
  until: number
): Promise<ExchangeResult> {
  const stopAt = Math.min(until, ctx.deadline ?? Number.POSITIVE_INFINITY);
  // Bounded by polls as well as by the clock, which may stand still (a test's, the simulation's).
  for (let polls = Math.ceil((stopAt - ctx.clock()) / LEASE_POLL_MS); ; polls--) {
    const record = await ctx.store.getAuthCode(ctx.componentAppId, code);
    if (record?.status !== 'pending' || polls <= 0 || ctx.clock() >= stopAt) return settle(record);
    await ctx.sleep(LEASE_POLL_MS);
  }
}

export interface PendingCodesSummary {
  exchanged: number;
  expired: number;
  pending: number;
}

/**
 * Retries every pending code whose next attempt is due (the schedule's safety net for exchanges that failed
 * transiently on the redirect or push path).
 */
export async function exchangePendingAuthCodes(
  ctx: TokenContext,
  limit = 100
): Promise<PendingCodesSummary> {
  const summary: PendingCodesSummary = { exchanged: 0, expired: 0, pending: 0 };
  const due = await ctx.store.listPendingAuthCodes(ctx.componentAppId, ctx.clock(), limit);
  for (const record of due) {
    try {
      const result = await exchangeStored(ctx, record, { wait: false });
      summary[result.status === 'pending' ? 'pending' : 'exchanged'] += 1;
    } catch (error) {
      if (error instanceof AuthCodeExpiredError) {
        summary.expired += 1;
      } else {
        summary.pending += 1;
        ctx.log.warn('pending authorization code not exchanged yet', { code: errorCode(error) });
      }
    }
  }
  return summary;
}
