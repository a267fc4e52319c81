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
 * WeChat keeps a superseded token (component or authorizer) working for 5 minutes after its successor is
 * issued, then answers 40001 (protocol §7.2, §11.1). That, not the nominal `expires_in`, bounds what we can
 * promise: see `promisedExpiry`.
 * @see https://developers.weixin.qq.com/doc/service/en/Basic_Information/Get_access_token.html
 */
export const SUPERSEDED_OVERLAP_MS = 5 * MINUTE;

/**
 * get-token refreshes inline only when the promised life left is this short (the schedule normally renews
 * first). Callers get at least this much life from every token they receive.
 */
export const SERVE_MIN_REMAINING_MS = 5 * MINUTE;

/**
 * A caller's `invalidToken` report forces a refresh at most once per this interval per token: a token issued
 * more recently is answered from the store. A caller looping on a 40001 with another cause (wrong appid,
 * a token used for the wrong account) cannot spend the platform's daily quota.
 */
export const FORCED_REFRESH_MIN_INTERVAL_MS = 1 * MINUTE;
/**
 * After a forced refresh, the next one for the same token record waits this long: a caller that keeps
 * reporting fresh tokens as invalid costs at most one extra WeChat call per hour, not one per report (and
 * every forced refresh shortens the tokens other callers hold to WeChat's 5-minute overlap).
 */
export const FORCED_REFRESH_BACKOFF_MS = 1 * HOUR;

/**
 * A caller's `invalidToken` report is checked with one call made with the reported token (getApiQuota:
 * any answer but 40001/42001/40014 proves WeChat still accepts it) at most once per this interval per
 * token, and an "alive" verdict is reused for as long: a looping caller costs one check a minute, and an
 * honest report made after a token really died waits at most this long for the renewal it triggers.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 */
export const REPORT_CHECK_INTERVAL_MS = 1 * MINUTE;

/**
 * How many times a writer re-reads a record that moved under it and decides again which token is newer
 * (architecture §3) before giving up: each round means another writer wrote in between, which for one
 * merchant happens a few times a day at most.
 */
export const SUCCESSION_ATTEMPTS = 4;

/** Per-attempt HTTP timeout for WeChat calls. */
export const WECHAT_TIMEOUT_MS = 5 * SECOND;
/** Attempts for transient WeChat failures (-1 busy, timeouts, resets). */
export const WECHAT_ATTEMPTS = 2;
export const WECHAT_RETRY_DELAY_MS = 200;

/**
 * How long a refresher owns a token. Every WeChat call made under the lease is cut to end
 * `LEASE_SAVE_RESERVE_MS` before it (component mint, refresh, 40001 retry, list paging together), so a
 * live holder never loses it mid-call; short enough that a crashed holder blocks nobody for long.
 */
export const LEASE_MS = 30 * SECOND;
/** Kept free at the end of a lease to write what WeChat answered. */
export const LEASE_SAVE_RESERVE_MS = 3 * SECOND;

/**
 * Kept free before an invocation's deadline (`getRemainingTimeInMillis`) to answer: the still-valid token or
 * a coded error, never a Lambda timeout.
 */
export const ANSWER_RESERVE_MS = 1 * SECOND;

/**
 * WeChat waits 5 seconds for `success` from the authorization-event URL, then retries the push.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/authorize_event.html
 */
export const PUSH_ANSWER_WITHIN_MS = 5 * SECOND;

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

/**
 * A redirect's code whose `api_query_auth` answer was lost names no authorizer; the `authorized` push (same
 * code, with the appid) normally arrives within seconds. After this long without it, the outcome is
 * recovered from `api_get_authorizer_list` instead.
 */
export const AUTH_CODE_PUSH_WAIT_MS = 2 * MINUTE;

/**
 * How long the redirect's page waits for the `authorized` push to settle a held code (the push normally
 * comes first or within a second or two) before answering "pending" (the schedule finishes it).
 */
export const REDIRECT_PUSH_WAIT_MS = 4 * SECOND;

/**
 * An authorizer WeChat lists without a refresh token (protocol §11.7) is asked about again this much later:
 * it is not ours to declare lost, and asking every run would spend the list quota.
 */
export const UNLISTED_REFRESH_TOKEN_RETRY_MS = 1 * HOUR;

/** Whatever a redirect claims (`expires_in`), a code is not kept pending longer than this. */
export const AUTH_CODE_MAX_LIFETIME_MS = 1 * HOUR;

/**
 * How long the code that recorded a lifecycle event has to publish it before the scheduled flush takes it
 * over: far more than a PutEvents call with its retries, so the two rarely both publish it (a double publish
 * is harmless: same id).
 */
export const EVENT_PUBLISH_GRACE_MS = 1 * MINUTE;
/**
 * A publish runs inline after a state change (WeChat waits 5 s for the answer to a push), and whatever
 * fails is retried by the scheduled flush: so at most two attempts of a second each (PutEvents answers in
 * milliseconds), not the SDK's defaults, under which a request that gets no answer only logs a warning.
 */
export const EVENT_PUBLISH_TIMEOUT_MS = 1 * SECOND;

/** How long a fetched secret is reused before Secrets Manager is asked again (rotation takes this long). */
export const SECRET_CACHE_MS = 5 * MINUTE;

/** `api_get_authorizer_list` returns at most 500 per page. */
export const AUTHORIZER_LIST_PAGE = 500;

/** Scheduled sweep: parallel WeChat refreshes, and how many due items one query page returns. */
export const SWEEP_CONCURRENCY = 32;
export const SWEEP_PAGE_SIZE = 200;
/** The sweep stops starting new work this long before the Lambda's deadline. */
export const SWEEP_DEADLINE_RESERVE_MS = 45 * SECOND;

/**
 * An authorizer's `getticket` ticket (`jsapi`, `wx_card`) notes when it was last served at most this often:
 * the note is a write, so a ticket served thousands of times an hour costs one write an hour, and the read
 * path stays one read otherwise. The sweep's "served lately" test is then exact to within this.
 */
export const TICKET_SERVED_NOTE_INTERVAL_MS = 1 * HOUR;

/**
 * The sweep keeps a `getticket` ticket fresh only while it is used: one served within this long is renewed
 * ahead of expiry (each renewal is a call on a quota WeChat calls "very limited", protocol §12); one not
 * served for longer leaves the `due` index, and its next caller fetches a new one. A day covers pages used
 * daily without renewing tickets of merchants that never open a JS-SDK page.
 */
export const TICKET_KEPT_FRESH_FOR_MS = 24 * HOUR;

/** When a token with `expires_in` seconds obtained at `now` should be renewed. */
export function refreshAtFor(now: number, expiresAt: number): number {
  return Math.max(now, expiresAt - REFRESH_MARGIN_MS);
}

/**
 * Until when a token handed out at `now` is guaranteed to work (architecture §7): never past its nominal
 * expiry, and never past the earliest moment a successor may be issued plus WeChat's 5-minute overlap.
 * Successors are issued only from the planned renewal (`refreshAt`) on, so that moment is
 * `max(refreshAt, now)`; while a renewal holds the lease (`leaseUntil` not passed) it is the moment the
 * lease was claimed, since WeChat may issue the successor as soon as that renewal's call leaves. A token
 * with no planned renewal can be replaced at any time.
 */
export function promisedExpiry(
  token: { expiresAt: number; refreshAt?: number; leaseUntil?: number },
  now: number
): number {
  const successorFrom =
    token.leaseUntil !== undefined && token.leaseUntil >= now
      ? Math.min(token.leaseUntil - LEASE_MS, now)
      : Math.max(token.refreshAt ?? now, now);
  return Math.min(token.expiresAt, successorFrom + SUPERSEDED_OVERLAP_MS);
}

/**
 * How often the platform's authorizer list is reconciled with the table (`api_get_authorizer_list`):
 * authorizations whose code never reached us (push and redirect both lost) are imported, and a
 * re-authorization we missed reactivates a revoked record. One list page per 500 authorizers per run.
 */
export const RECONCILE_INTERVAL_HOURS = 6;
/**
 * A reconciliation that failed, ran out of time or could not describe every listed authorizer is run again
 * by the first sweep this long after it, not hours later at the next scheduled one: an authorization that
 * reached us by neither channel waits for it. Long enough that a quota (45009) or outage costs two list
 * calls an hour, not one per sweep.
 */
export const RECONCILE_RETRY_AFTER_MS = 30 * MINUTE;

/**
 * How often the platform's WeChat quotas are read (`getApiQuota`, one call per watched API): WeChat counts
 * per Beijing day, and getApiQuota spends a quota of its own.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 */
export const WECHAT_QUOTA_CHECK_EVERY_MS = 24 * HOUR;
/**
 * The share of a WeChat daily quota at which the check warns, `status` says "near the limit" and the
 * `WechatQuotaNearLimit` alarm fires: a fifth of the day's calls is left for the rest of the Beijing day.
 */
export const QUOTA_WARN_SHARE = 0.8;
/** Pauses before retrying a list page that failed transiently within one reconciliation. */
export const RECONCILE_RETRY_PAUSES_MS: readonly number[] = [500, 2 * SECOND, 5 * SECOND];

/**
 * The public page routes (`GET /authorize` → `api_create_preauthcode`, `GET /authorize/callback` →
 * `api_query_auth`) are open to anyone, and WeChat's quotas are per platform and per day (protocol §7.4,
 * §11.6): each route may spend at most this many WeChat calls per minute, counted in the token table so
 * the limit holds across Lambda containers (`PUBLIC_ROUTE_BUDGET_PER_MINUTE` overrides it).
 */
export const PUBLIC_ROUTE_BUDGET_PER_MINUTE = 20;

/**
 * …and at most this many per day (`PUBLIC_ROUTE_BUDGET_PER_DAY`): 20 a minute for a whole day would be
 * 28 800 calls, above the 10 000 a day reported for component APIs, so a day of hostile traffic is capped
 * at a tenth of that instead.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 */
export const PUBLIC_ROUTE_BUDGET_PER_DAY = 1000;

/** WeChat's daily quotas restart at midnight Beijing time (UTC+8), so the daily budget does too. */
export const WECHAT_DAY_OFFSET_MS = 8 * HOUR;

/**
 * How many partitions of the `due` index a platform's active authorizers are spread over
 * (`DUE#<componentAppid>#<shard>`, the shard a stable hash of the authorizer's appid; `table-schema.ts`).
 *
 * DynamoDB serves at most 1 000 write units and 3 000 read units per second per partition, in a global
 * secondary index as in the table. A scheduled renewal writes the index three times (items stay under 1 KB):
 * once for the lease claim (the index projects every attribute) and twice for the save, because moving
 * `refreshAt`, the index's sort key, is a delete and a put. At 1 000 000 authorizers renewed every 105 min
 * (2 h life − `REFRESH_MARGIN_MS`) that is 159 renewals/s, 476 units/s: 48 % of one partition's limit,
 * about 15 units/s (1.5 %) on each of 32. Bursts are larger: authorizers authorized together come due
 * together, and the sweep then renews at its own ceiling, `SWEEP_CONCURRENCY` renewals in flight of at least
 * one WeChat round trip (≥ 50 ms) each, with two runs overlapping (5-minute schedule, 5-minute timeout):
 * 1 280 renewals/s, 3 840 units/s, 3.8 times one partition's limit; 120 units/s (12 %) on each of 32.
 * Reading costs less: a Query page of 200 items is 25 read units (eventually consistent).
 *
 * May grow, never shrink: the sweep reads every shard below the count, so items written under a smaller
 * count are still found, while shrinking it would hide the items of the dropped shards.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html
 */
export const DUE_INDEX_SHARDS = 32;

/**
 * Due-index Queries (one page of one partition each) the sweep keeps in flight at once. With
 * `SWEEP_CONCURRENCY` renewals it stays under the 50 sockets of the AWS SDK's default HTTP agent.
 */
export const SWEEP_QUERY_CONCURRENCY = 8;

/**
 * How long one operator job (`shared/jobs/run-operator-job.ts`: a page of `list`, the counts of
 * `status`) may read the table before answering with a cursor to continue from. Listings are a Scan of the whole table;
 * a bound per invocation keeps each answer quick and the CLI showing progress at any table size.
 */
export const OPERATOR_READ_BUDGET_MS = 10 * SECOND;
