import { type ServiceError, TicketUnavailableError, UpstreamUnavailableError } from '../errors';
import {
  FORCED_REFRESH_BACKOFF_MS,
  FORCED_REFRESH_MIN_INTERVAL_MS,
  promisedExpiry,
  SERVE_MIN_REMAINING_MS,
} from './policy';

/** A token handed to a caller. */
export interface IssuedToken {
  accessToken: string;
  /** Epoch ms until which WeChat is guaranteed to accept it (`promisedExpiry`), not its nominal expiry. */
  expiresAt: number;
}

/** The token fields every refreshable record (component or authorizer) has. */
export interface TokenFields {
  accessToken?: string;
  expiresAt?: number;
  refreshAt?: number;
  issuedAt?: number;
  /** When the last refresh forced by an `invalidToken` report happened. */
  forcedAt?: number;
  status?: string;
}

/**
 * Whether a caller's report that WeChat rejected `invalidToken` may force a refresh: only when it is the
 * stored token (compare-and-refresh: a stale report refreshes nothing), that token was not itself issued
 * within `FORCED_REFRESH_MIN_INTERVAL_MS`, and the last forced refresh is `FORCED_REFRESH_BACKOFF_MS` ago
 * (the rest are answered from the store: a caller looping on a 40001 of another cause cannot spend the
 * platform's quota).
 */
export function forcesRefresh(
  record: TokenFields | undefined,
  invalidToken: string | undefined,
  now: number
): boolean {
  if (invalidToken === undefined || record?.accessToken !== invalidToken) return false;
  const oldEnough =
    record.issuedAt === undefined || now - record.issuedAt >= FORCED_REFRESH_MIN_INTERVAL_MS;
  const backedOff =
    record.forcedAt === undefined || now - record.forcedAt >= FORCED_REFRESH_BACKOFF_MS;
  return oldEnough && backedOff;
}

/**
 * The record's token if it may be handed out at `now`: present, for an active authorizer (component tokens
 * have no status), not a reported-invalid token that may be refreshed, with at least `minRemainingMs` of
 * promised life left. With the default margin (`SERVE_MIN_REMAINING_MS`) it decides whether to refresh: a
 * token past its planned renewal is still promised 5 minutes (WeChat's overlap), so the schedule renews it
 * and callers are not slowed by inline refreshes until its nominal expiry is near. With 0 it is the
 * fallback when a refresh failed (a token WeChat still accepts beats an error).
 */
export function servableToken(
  record: TokenFields | undefined,
  now: number,
  invalidToken?: string,
  minRemainingMs = SERVE_MIN_REMAINING_MS
): IssuedToken | undefined {
  if (!record?.accessToken || record.expiresAt === undefined) return undefined;
  if (record.status !== undefined && record.status !== 'active') return undefined;
  if (forcesRefresh(record, invalidToken, now)) return undefined;
  const expiresAt = promisedExpiry(
    { expiresAt: record.expiresAt, refreshAt: record.refreshAt },
    now
  );
  const remaining = expiresAt - now;
  if (remaining <= 0 || remaining < minRemainingMs) return undefined;
  return { accessToken: record.accessToken, expiresAt };
}

/** Turns a peer refresher's recorded failure into an error for this caller. */
export function failureFrom(code: string | undefined): ServiceError {
  if (code === 'ticket_unavailable') {
    return new TicketUnavailableError('no usable component_verify_ticket');
  }
  return new UpstreamUnavailableError(code ?? 'refresh_failed');
}
