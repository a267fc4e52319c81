/**
 * The domain rules of the token store's writes, with no I/O: which fields a write gives a record. The
 * DynamoDB adapter (`dynamodb/*.ts`) and the in-memory fake (`test/support/memory-token-store.ts`) both
 * call these and only translate the result (an `UpdateItem` expression and its condition, or a map
 * entry), so the two cannot disagree on a rule while the contract suite happens not to look.
 *
 * Field maps use the port's names (`token-store.ts`); a field whose value is `undefined` is removed from
 * the record. Conditions (lease owner, version, `authorizedAt` order) stay with each adapter: DynamoDB
 * checks them in the write itself, so they cannot be a function run before it (architecture §3).
 */
import type {
  AuthCodeRecord,
  AuthorizerStatus,
  LeasedRef,
  NewAuthorization,
  ReleaseOutcome,
  TokenStore,
} from './token-store';

/** A record's fields as a write leaves them; `undefined` removes the field. */
export type FieldWrite = Record<string, unknown>;

/**
 * The status a stored authorization takes: active when WeChat gave a refresh token, otherwise the status
 * the writer names for an authorization without one (`without_api_permission` unless it says
 * `awaiting_authorization_code`), which is never refreshed (protocol §11.3).
 */
export function authorizationStatus(
  a: Pick<NewAuthorization, 'refreshToken' | 'withoutRefreshToken'>
): AuthorizerStatus {
  return a.refreshToken ? 'active' : (a.withoutRefreshToken ?? 'without_api_permission');
}

/**
 * Whether an authorizer in `status` belongs on the `due` index the sweep renews from: only active ones
 * are renewed, so only they carry a `dueKey` (architecture §2).
 */
export function isRenewable(status: AuthorizerStatus | undefined): boolean {
  return status === 'active';
}

/**
 * The fields a stored authorization (`saveAuthorization`) writes. Tokens are kept only with a refresh
 * token: without one the authorizer is never renewed, so an access token would have no successor and
 * `refreshAt` no meaning. `issuedAt` defaults to `now` and `requestedAt` to `issuedAt`, the issue window
 * succession compares (architecture §3).
 *
 * What the record knew of the token it replaces goes: the last report check, the last failure and the end
 * of an earlier authorization (`endedAt`). The last forced renewal (`forcedAt`) stays, as it does across
 * token saves: its hour of back-off bounds what reports may cost WeChat's quota per merchant, whichever
 * write came between (architecture §3). The lease and pending events are not the authorization's and stay.
 */
export function authorizationFields(a: NewAuthorization, now: number) {
  const tokened = Boolean(a.refreshToken && a.accessToken);
  const issuedAt = a.issuedAt ?? now;
  return {
    componentAppId: a.componentAppId,
    authorizerAppId: a.authorizerAppId,
    status: authorizationStatus(a),
    accessToken: tokened ? a.accessToken : undefined,
    expiresAt: tokened ? a.expiresAt : undefined,
    issuedAt: tokened ? issuedAt : undefined,
    requestedAt: tokened ? (a.requestedAt ?? issuedAt) : undefined,
    refreshToken: a.refreshToken,
    funcInfo: a.funcInfo,
    refreshAt: a.refreshToken ? a.refreshAt : undefined,
    authorizedAt: a.authorizedAt,
    updatedAt: now,
    reportCheckedAt: undefined,
    lastErrorCode: undefined,
    endedAt: undefined,
  };
}

/**
 * What ending an authorization (`endAuthorization`: revoked, or beyond renewal) writes. WeChat ended its
 * tokens, so nothing of them stays: the tokens, their issue window, renewal time, forced renewal and
 * report check, and the lease of a renewal in flight (whose save must then fail). The record keeps what
 * says what was authorized and why it ended: `funcInfo`, `authorizedAt` (so an older event still cannot
 * override a newer authorization) and `lastErrorCode`, which operators read. An authorizer never seen
 * gets a tombstone, its `ifAbsent` fields set: no permissions, and authorized at 0, so that any later
 * authorization replaces it.
 */
export function endAuthorizationWrite(
  ids: { componentAppId: string; authorizerAppId: string },
  status: Exclude<AuthorizerStatus, 'active'>,
  endedAt: number,
  now: number
): { fields: FieldWrite; ifAbsent: { funcInfo: number[]; authorizedAt: number } } {
  return {
    fields: {
      componentAppId: ids.componentAppId,
      authorizerAppId: ids.authorizerAppId,
      status,
      endedAt,
      updatedAt: now,
      accessToken: undefined,
      expiresAt: undefined,
      issuedAt: undefined,
      requestedAt: undefined,
      refreshToken: undefined,
      refreshAt: undefined,
      forcedAt: undefined,
      reportCheckedAt: undefined,
      leaseOwner: undefined,
      leaseUntil: undefined,
    },
    ifAbsent: { funcInfo: [], authorizedAt: 0 },
  };
}

/** What a lease holder's token save clears: the last failure and the last report check were about the old token. */
export const CLEARED_BY_TOKEN_SAVE = ['lastErrorCode', 'reportCheckedAt'] as const;

type TokenSave =
  | Parameters<TokenStore['saveComponentToken']>[2]
  | Parameters<TokenStore['saveAuthorizerToken']>[3]
  | Parameters<TokenStore['saveAuthorizerTicket']>[4];

/**
 * The fields a lease holder's token (or `getticket` ticket) save sets besides the token itself: `issuedAt`
 * is `now` (the answer just arrived) and `requestedAt` defaults to it, the issue window succession
 * compares (architecture §3). The save also clears `CLEARED_BY_TOKEN_SAVE` and the lease. A ticket save
 * without `servedAt` (the sweep's) keeps the one stored: `undefined` would remove it.
 */
export function tokenSaveFields<T extends TokenSave>(token: T, now: number) {
  const fields = { ...token, requestedAt: token.requestedAt ?? now, issuedAt: now, updatedAt: now };
  if ('servedAt' in fields && fields.servedAt === undefined) delete fields.servedAt;
  return fields;
}

/**
 * Whether a ticket record may leave the `due` index (`retireTicket`): it was not served at or after
 * `servedBefore` (never served counts as not lately). Both stores apply it to the record as stored: the
 * DynamoDB adapter as the write's condition, the fake before its write.
 */
export function ticketRetirable(record: { servedAt?: number }, servedBefore: number): boolean {
  return record.servedAt === undefined || record.servedAt < servedBefore;
}

/**
 * What a lease release writes (`TokenStore.release`). The lease ends. An authorization code counts the
 * attempt, keeps the error as `outcomeCode` and may learn it is uncertain or whose it is; a token keeps it
 * as `lastErrorCode` and may record a report check. `retryAt` moves the next attempt (`nextAttemptAt` of a
 * code, `refreshAt` of a token). `expiresAtCap` (tokens only) may only lower `expiresAt`: each adapter
 * applies it only over a later stored expiry, so a longer-lived successor keeps its own.
 */
export function releaseWrite(
  kind: LeasedRef['kind'],
  outcome: ReleaseOutcome,
  now: number
): { fields: FieldWrite; countsAttempt: boolean; expiresAtCap?: number } {
  const lease = { leaseOwner: undefined, leaseUntil: undefined };
  if (kind === 'auth_code') {
    return {
      fields: {
        ...lease,
        outcomeCode: outcome.errorCode,
        updatedAt: now,
        ...(outcome.retryAt === undefined ? {} : { nextAttemptAt: outcome.retryAt }),
        ...(outcome.uncertainAt === undefined ? {} : { uncertainAt: outcome.uncertainAt }),
        ...(outcome.authorizerAppId === undefined
          ? {}
          : { authorizerAppId: outcome.authorizerAppId }),
      },
      countsAttempt: true,
    };
  }
  return {
    fields: {
      ...lease,
      lastErrorCode: outcome.errorCode,
      updatedAt: now,
      ...(outcome.retryAt === undefined ? {} : { refreshAt: outcome.retryAt }),
      ...(outcome.reportCheckedAt === undefined
        ? {}
        : { reportCheckedAt: outcome.reportCheckedAt }),
    },
    countsAttempt: false,
    ...(outcome.expiresAt === undefined ? {} : { expiresAtCap: outcome.expiresAt }),
  };
}

/**
 * What the lease holder's `finishAuthCode` writes besides ending the lease and counting the version: the
 * final status, the outcome code (an empty one is none: no caller means anything by it, and an empty
 * string stored would read as a code), the authorizer when the exchange named one, and no next attempt,
 * so a finished code leaves the `due` index and is never attempted again.
 */
export function finishAuthCodeFields(
  outcome: Parameters<TokenStore['finishAuthCode']>[3],
  now: number
): FieldWrite {
  return {
    status: outcome.status,
    outcomeCode: outcome.outcomeCode || undefined,
    ...(outcome.authorizerAppId ? { authorizerAppId: outcome.authorizerAppId } : {}),
    nextAttemptAt: undefined,
    updatedAt: now,
  };
}

/**
 * A new authorization code as first stored (`putAuthCode`): pending, no attempt yet, its first exchange
 * due at once (`receivedAt`), version 0 so the first attempt can claim it.
 */
export function newAuthCode(
  record: Omit<AuthCodeRecord, 'version' | 'status' | 'attempts' | 'nextAttemptAt'>
): AuthCodeRecord {
  return {
    ...record,
    version: 0,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: record.receivedAt,
  };
}
