import { type ServiceError, TicketUnavailableError, UpstreamUnavailableError } from '../errors';
import { SERVE_MIN_REMAINING_MS } from './policy';

/** A token handed to a caller. */
export interface IssuedToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

interface TokenFields {
  accessToken?: string;
  expiresAt?: number;
  status?: string;
}

/**
 * The record's token if it may be handed out at `now`: present, not the one the caller reports WeChat
 * rejected, for an active authorizer (component tokens have no status), with at least `minRemainingMs`
 * left. With the default margin (`SERVE_MIN_REMAINING_MS`) it decides whether to refresh; with 0 it is the
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
  if (record.expiresAt - now <= minRemainingMs || record.accessToken === invalidToken) {
    return undefined;
  }
  return { accessToken: record.accessToken, expiresAt: record.expiresAt };
}

/** Turns a peer refresher's recorded failure into an error for this caller. */
export function failureFrom(code: string | undefined): ServiceError {
  if (code === 'ticket_unavailable') {
    return new TicketUnavailableError('no usable component_verify_ticket');
  }
  return new UpstreamUnavailableError(code ?? 'refresh_failed');
}
