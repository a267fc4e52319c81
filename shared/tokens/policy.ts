/**
 * Every timing rule of the service, with the WeChat fact behind it. Services read these; nothing else
 * hard-codes a duration.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * A `component_verify_ticket` is valid for 12 hours, and WeChat says to keep using the last one received
 * when pushes are late.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/component_verify_ticket.html
 */
export const TICKET_LIFETIME_MS = 12 * HOUR;

/** Pushes come every 10 minutes; no push for this long means the push service may have stopped. */
export const TICKET_STALE_AFTER_MS = 30 * MINUTE;

/** Don't ask WeChat to restart pushes more often than this (each call is an API call on our quota). */
export const START_PUSH_TICKET_MIN_INTERVAL_MS = 30 * MINUTE;

/**
 * Renew a token when this little of its life is left. WeChat advises renewing the 2 h component token at
 * about 1 h 50 min; the schedule runs every 5 minutes, so 15 minutes gives every token at least two
 * scheduled chances before the 10-minute mark, and still leaves ~1 h 45 min between renewals (the
 * refresh APIs have daily quotas).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html
 */
export const REFRESH_MARGIN_MS = 15 * MINUTE;

/**
 * get-token refreshes inline only when the stored token has less than this left (the schedule normally
 * renews long before). Callers get at least this much life from every token they receive.
 */
export const SERVE_MIN_REMAINING_MS = 5 * MINUTE;

/** Per-attempt HTTP timeout for WeChat calls. */
export const WECHAT_TIMEOUT_MS = 5 * SECOND;
/** Attempts for transient WeChat failures (-1 busy, timeouts, resets). */
export const WECHAT_ATTEMPTS = 2;
export const WECHAT_RETRY_DELAY_MS = 200;

/**
 * How long a refresher owns a token. Longer than every WeChat attempt together
 * (2 × 5 s + backoff), so a live holder never loses it mid-call; short enough that a crashed holder blocks
 * nobody for long.
 */
export const LEASE_MS = 30 * SECOND;

/** How long a caller that lost the lease waits for the winner's token before giving up. */
export const LEASE_WAIT_MS = 6 * SECOND;
/** Poll interval while waiting (jittered ±50 %). */
export const LEASE_POLL_MS = 150;

/** After a failed scheduled refresh, try again on the next runs rather than waiting for the margin. */
export const RETRY_AFTER_FAILURE_MS = 4 * MINUTE;

/**
 * Authorization codes last 10 minutes when WeChat does not say (`expires_in=600` on the redirect).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Authorization_Process_Technical_Description.html
 */
export const AUTH_CODE_DEFAULT_LIFETIME_MS = 10 * MINUTE;
/** A pending code whose exchange failed transiently is retried this much later. */
export const AUTH_CODE_RETRY_MS = 1 * MINUTE;

/** `api_get_authorizer_list` returns at most 500 per page. */
export const AUTHORIZER_LIST_PAGE = 500;

/** Scheduled sweep: parallel WeChat refreshes, and how many due items one query page returns. */
export const SWEEP_CONCURRENCY = 32;
export const SWEEP_PAGE_SIZE = 200;
/** The sweep stops starting new work this long before the Lambda's deadline. */
export const SWEEP_DEADLINE_RESERVE_MS = 45 * SECOND;

/** When a token with `expires_in` seconds obtained at `now` should be renewed. */
export function refreshAtFor(now: number, expiresAt: number): number {
  return Math.max(now, expiresAt - REFRESH_MARGIN_MS);
}

/**
 * How often the platform's authorizer list is reconciled with the table (`api_get_authorizer_list`):
 * authorizations whose code never reached us (push and redirect both lost) are imported, and a
 * re-authorization we missed reactivates a revoked record. One list page per 500 authorizers per run.
 */
export const RECONCILE_INTERVAL_HOURS = 6;
