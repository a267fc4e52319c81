import type { EpochMs } from '../clock';
import { type ServiceError, TicketUnavailableError, UpstreamUnavailableError } from '../errors';
import {
  FORCED_REFRESH_BACKOFF_MS,
  FORCED_REFRESH_MIN_INTERVAL_MS,
  promisedExpiry,
  REPORT_CHECK_INTERVAL_MS,
  SERVE_MIN_REMAINING_MS,
} from '../policy';

/** A token handed to a caller. */
export interface IssuedToken {
  accessToken: string;
  /** Until then WeChat is guaranteed to accept it (`promisedExpiry`); not its nominal expiry. */
  expiresAt: EpochMs;
}

/** The token fields every refreshable record (component or authorizer) has. */
export interface TokenFields {
  accessToken?: string;
  expiresAt?: number;
  refreshAt?: number;
  issuedAt?: number;
  requestedAt?: number;
  /** When the last refresh forced by an `invalidToken` report happened. */
  forcedAt?: number;
  /** When a report against `accessToken` was last checked without proving it dead. */
  reportCheckedAt?: number;
  /** A renewal holds the lease until then (its successor may be issued from the claim on). */
  leaseUntil?: number;
  status?: string;
}

/**
 * Whether a caller reports the stored token itself as rejected (a report of an older token is stale: the
 * stored one already replaced it) and no check within `REPORT_CHECK_INTERVAL_MS` failed to prove it dead. Such a
 * report is checked with WeChat before anything is decided (architecture §7: honest reports always heal,
 * false ones hurt nobody).
 */
export function reportPending(
  record: TokenFields | undefined,
  invalidToken: string | undefined,
  now: number
): boolean {
  if (invalidToken === undefined || record?.accessToken !== invalidToken) return false;
  return (
    record.reportCheckedAt === undefined || now - record.reportCheckedAt >= REPORT_CHECK_INTERVAL_MS
  );
}

/**
 * Whether a report whose check was inconclusive (WeChat busy or unreachable) may still force a renewal:
 * only when the token was not itself issued within `FORCED_REFRESH_MIN_INTERVAL_MS` and the last forced
 * renewal is `FORCED_REFRESH_BACKOFF_MS` ago, so a caller looping on a 40001 of another cause cannot spend
 * the platform's quota while WeChat cannot tell us whether the token is alive.
 */
export function forcesRefresh(record: TokenFields | undefined, now: number): boolean {
  if (!record) return false;
  const oldEnough =
    record.issuedAt === undefined || now - record.issuedAt >= FORCED_REFRESH_MIN_INTERVAL_MS;
  const backedOff =
    record.forcedAt === undefined || now - record.forcedAt >= FORCED_REFRESH_BACKOFF_MS;
  return oldEnough && backedOff;
}

/**
 * The record's token if it may be handed out at `now` with at least `SERVE_MIN_REMAINING_MS` of promised
 * life left: present, for an active authorizer (component tokens have no status). Below that margin get-token
 * renews first: a token past its planned renewal is still promised 5 minutes (WeChat's overlap), so the
 * schedule renews it and callers are not slowed by inline renewals until its nominal expiry is near.
 */
export function servableToken(
  record: TokenFields | undefined,
  now: number
): IssuedToken | undefined {
  return tokenWithPromise(record, now, SERVE_MIN_REMAINING_MS);
}

/**
 * The record's token while any promised life is left: what an answer falls back to when a renewal failed
 * or its deadline came first (a token WeChat still accepts beats an error).
 */
export function fallbackToken(
  record: TokenFields | undefined,
  now: number
): IssuedToken | undefined {
  return tokenWithPromise(record, now, 1);
}

function tokenWithPromise(
  record: TokenFields | undefined,
  now: number,
  minRemainingMs: number
): IssuedToken | undefined {
  if (!record?.accessToken || record.expiresAt === undefined) return undefined;
  if (record.status !== undefined && record.status !== 'active') return undefined;
  const expiresAt = promisedExpiry(record as TokenFields & { expiresAt: number }, now);
  if (expiresAt - now < minRemainingMs) return undefined;
  return { accessToken: record.accessToken, expiresAt };
}

/** Turns a peer refresher's recorded failure into an error for this caller. */
export function failureFrom(code: string | undefined): ServiceError {
  if (code === 'ticket_unavailable') {
    return new TicketUnavailableError('no usable component_verify_ticket');
  }
  return new UpstreamUnavailableError(code ?? 'refresh_failed');
}
