/**
 * The token store port: what the services need from persistence, and the records they keep. The DynamoDB
 * adapter (`dynamodb-token-store.ts`) and the in-memory fake used by unit tests implement it; one contract
 * suite runs against both so they cannot drift.
 *
 * Concurrency rule (architecture §3): every record that WeChat refreshes carries a `version` and a lease
 * (`leaseOwner`, `leaseUntil`). Only the caller that won `claim()` calls WeChat, and its `save…()` succeeds
 * only while it still owns the lease. Losers never call WeChat; they read what the winner wrote.
 *
 *   refresher A: read v=3 ──claim(v=3)✔── call WeChat ── save(owner=A) ✔ v=4, lease cleared
 *   refresher B: read v=3 ──claim(v=3)✘ (ConcurrentUpdateError) ── wait for v>3 ── return A's token
 *
 * A lease that is never released (crashed Lambda) expires by itself after `leaseUntil`.
 */
import type { EpochMs } from '../clock';

/** The latest `component_verify_ticket` WeChat pushed. */
export interface TicketRecord {
  componentAppId: string;
  ticket: string;
  /** WeChat's `CreateTime`. A push with an older or equal CreateTime never replaces this. */
  createTime: EpochMs;
  /** When our intake stored it. */
  receivedAt: EpochMs;
}

/** Lease fields shared by every refreshable record. */
export interface Leased {
  /** Increases by one on every token write. */
  version: number;
  leaseOwner?: string;
  /** After it the lease is void. */
  leaseUntil?: EpochMs;
}

/**
 * The times every renewable credential's record keeps (the component token, an authorizer's token, an
 * authorizer's ticket): the rules of `shared/serving/` read the same fields of all three.
 */
export interface RenewalTimes {
  /** When WeChat stops accepting the credential. */
  expiresAt?: EpochMs;
  /** When the schedule should renew it. */
  refreshAt?: EpochMs;
  /** When WeChat's answer with the credential arrived: the latest it can have been issued. */
  issuedAt?: EpochMs;
  /** When the call that issued it began: the earliest it can have been issued. */
  requestedAt?: EpochMs;
  /** When the last renewal forced by a caller's report (`invalidToken`, `invalidTicket`) happened. */
  forcedAt?: EpochMs;
  /**
   * When a caller's report against the credential was last checked without proving it dead (never for a
   * ticket: no check can prove one alive).
   */
  reportCheckedAt?: EpochMs;
  /** Code of the last failed renewal, cleared by a success. */
  lastErrorCode?: string;
}

/** The platform's `component_access_token`. */
export interface ComponentTokenRecord extends Leased, RenewalTimes {
  componentAppId: string;
  accessToken?: string;
  updatedAt: EpochMs;
}

/**
 * `without_api_permission`: authorized, but WeChat issued no tokens because the account has no API
 * permission (protocol §11.3); recorded with its permission sets, never refreshed.
 * `awaiting_authorization_code`: WeChat lists the account but gives no refresh token (neither the list nor
 * `api_get_authorizer_info`); per WeChat's FAQ only a fresh authorization code (the merchant updating the
 * authorization) brings one. Never refreshed; a code or a listing with a refresh token reactivates it.
 */
export type AuthorizerStatus =
  | 'active'
  | 'revoked'
  | 'needs_reauthorization'
  | 'without_api_permission'
  | 'awaiting_authorization_code';

/** One merchant account (official account or mini program) that authorized the platform. */
export interface AuthorizerRecord extends Leased, RenewalTimes {
  componentAppId: string;
  authorizerAppId: string;
  /** Only active authorizers are renewed, so only they are on the `due` index. */
  status: AuthorizerStatus;
  accessToken?: string;
  refreshToken?: string;
  /** Permission-set ids (权限集) the merchant granted, from `func_info`. */
  funcInfo: number[];
  /** When the authorization this record reflects was made; older lifecycle events never override it. */
  authorizedAt: EpochMs;
  /** When the authorization was revoked or its refresh token lost. */
  endedAt?: EpochMs;
  updatedAt: EpochMs;
  /**
   * Lifecycle events written with the state change they report, in the same item update, not yet in the
   * outbox (`shared/events/outbox.ts` moves them): a change is never stored without its event.
   */
  pendingEvents?: PendingEvent[];
}

/** A lifecycle event as written with its state change: `id` is the change's digest, `detail` its JSON. */
export interface PendingEvent {
  id: string;
  type: string;
  detail: string;
  createdAt: number;
}

export type AuthCodeStatus = 'pending' | 'exchanged' | 'failed';

/** An `authorization_code`, stored before it is exchanged so it is never lost and exchanged once. */
export interface AuthCodeRecord extends Leased {
  componentAppId: string;
  code: string;
  /** After it WeChat answers 61010. */
  expiresAt: EpochMs;
  source: 'redirect' | 'push';
  receivedAt: EpochMs;
  status: AuthCodeStatus;
  /** Known from the push, or from `api_query_auth` once exchanged. */
  authorizerAppId?: string;
  /** Why it failed (`auth_code_expired`, …) or the last transient error while pending. */
  outcomeCode?: string;
  /**
   * The time of an exchange attempt whose answer was lost: WeChat may have consumed the code, so it is
   * never sent again; the outcome is recovered from WeChat instead (architecture §7).
   */
  uncertainAt?: EpochMs;
  attempts: number;
  /** When the schedule retries a pending exchange. */
  nextAttemptAt?: EpochMs;
  updatedAt?: EpochMs;
}

/** `getticket`'s ticket types (protocol §12): the JS-SDK `jsapi_ticket`, and the card `api_ticket`. */
export type AuthorizerTicketType = 'jsapi' | 'wx_card';

/**
 * One authorizer's `getticket` ticket of one type, kept for every caller (protocol §12): fetched on first
 * use, renewed through the lease like a token (one `getticket` per renewal across all processes), kept
 * fresh by the sweep only while it is served. On the `due` index from its first save until the sweep
 * finds it unserved for `TICKET_KEPT_FRESH_FOR_MS` (`retireTicket`).
 */
export interface AuthorizerTicketRecord extends Leased, RenewalTimes {
  componentAppId: string;
  authorizerAppId: string;
  type: AuthorizerTicketType;
  ticket?: string;
  /**
   * When a caller was last handed the ticket, noted at most every `TICKET_SERVED_NOTE_INTERVAL_MS`
   * (and by every renewal made for a caller): the sweep renews only tickets served lately.
   */
  servedAt?: EpochMs;
  /** Absent while the record is only a first fetch's lease. */
  updatedAt?: EpochMs;
}

export interface LeaseClaim {
  owner: string;
  until: number;
}

/** Identifies one refreshable record. */
export type LeasedRef =
  | { kind: 'component_token'; componentAppId: string }
  | { kind: 'authorizer'; componentAppId: string; authorizerAppId: string }
  | { kind: 'auth_code'; componentAppId: string; code: string }
  | {
      kind: 'authorizer_ticket';
      componentAppId: string;
      authorizerAppId: string;
      type: AuthorizerTicketType;
    };

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

/** One partition of the `due` index, from `TokenStore.duePartitions`; `id` is opaque to callers. */
export interface DuePartition {
  componentAppId: string;
  id: string;
}

export interface NewAuthorization {
  componentAppId: string;
  authorizerAppId: string;
  /**
   * The record's `version` this write was decided on (0: no record yet); absent, only `authorizedAt`
   * guards it. Every writer that may meet another passes it (architecture §3).
   */
  expectedVersion?: number;
  accessToken?: string;
  expiresAt?: number;
  /** When the answer carrying `accessToken` arrived; default `now`. */
  issuedAt?: number;
  /** When the call that issued `accessToken` began; default `issuedAt`. */
  requestedAt?: number;
  /** Absent when WeChat gave none: stored as `withoutRefreshToken` says. */
  refreshToken?: string;
  /** The status of an authorization without a refresh token; default `without_api_permission`. */
  withoutRefreshToken?: 'without_api_permission' | 'awaiting_authorization_code';
  funcInfo: number[];
  refreshAt: number;
  authorizedAt: number;
  /** The lifecycle event of this change, written with it (`AuthorizerRecord.pendingEvents`). */
  event?: PendingEvent;
}

/** What a lease holder records when it gives up without a new token. */
export interface ReleaseOutcome {
  errorCode?: string;
  /** Moves the record's next scheduled attempt. */
  retryAt?: number;
  /**
   * Tokens only: lowers `expiresAt` to this (never raises it). After an uncertain outcome WeChat may have
   * issued a successor, so the stored token dies 5 minutes after the attempt began.
   */
  expiresAt?: number;
  /** Auth codes only: the attempt's answer was lost (see `AuthCodeRecord.uncertainAt`). */
  uncertainAt?: number;
  /** Auth codes only: the authorizer the code belongs to, once a push named it. */
  authorizerAppId?: string;
  /** Tokens only: a reported token was checked and not found dead (`reportCheckedAt`). */
  reportCheckedAt?: number;
}

/**
 * One counting window of a budget of WeChat calls (`shared/budgets/public-budget.ts`): how many calls
 * `name` made from `startsAt` to `endsAt`. Not a leased record: it is only ever incremented.
 */
export interface BudgetWindow {
  componentAppId: string;
  /** What is counted, e.g. `authorize/minute`. */
  name: string;
  /** When the window opens; with `name`, it identifies the window. */
  startsAt: EpochMs;
  /** When the window closes; the count may be deleted after it. */
  endsAt: EpochMs;
}

/**
 * A lifecycle event in the outbox (`shared/events/outbox.ts`): recorded right after the store write that
 * caused it, published, then marked published. Unpublished ones are due for the scheduled flush from
 * `publishAt` on (on the `due` index, never a scan). The store keeps the event opaque.
 */
export interface OutboxEventRecord {
  componentAppId: string;
  /** The event's id: one change is recorded once. */
  id: string;
  /** The event's name (EventBridge `detail-type`). */
  type: string;
  /** The event's `detail`, as JSON. */
  detail: string;
  createdAt: EpochMs;
  /** From then on the scheduled flush publishes it; absent once published. */
  publishAt?: EpochMs;
  publishedAt?: EpochMs;
  /** Failed publish attempts. */
  attempts: number;
  /** The bus's error on the last failed attempt. */
  lastError?: string;
}

/** An authorizer as operators list it: every field but its tokens, which a listing never reads. */
export type AuthorizerSummary = Omit<
  AuthorizerRecord,
  'accessToken' | 'refreshToken' | 'leaseOwner'
>;

/** The scheduled jobs whose last run is kept for operators (`shared/jobs/run-operator-job.ts`). */
export type RunJob = 'refresh' | 'reconcile' | 'quota';

/** The last finished run of a scheduled job: one small item per job, replaced by each later run. */
export interface RunRecord {
  componentAppId: string;
  job: RunJob;
  /** A record never replaces one of a run that finished later. */
  finishedAt: EpochMs;
  /** The run's summary, as JSON; opaque to the store. */
  summary: string;
}

export interface TokenStore {
  getTicket(componentAppId: string): Promise<TicketRecord | undefined>;
  /** Stores the ticket unless one with the same or a newer `createTime` is there; true when stored. */
  putTicket(record: TicketRecord): Promise<boolean>;

  getComponentToken(componentAppId: string): Promise<ComponentTokenRecord | undefined>;
  getAuthorizer(
    componentAppId: string,
    authorizerAppId: string
  ): Promise<AuthorizerRecord | undefined>;
  getAuthCode(componentAppId: string, code: string): Promise<AuthCodeRecord | undefined>;

  /**
   * Takes the lease on a record whose version is still `expectedVersion` (0 for a record that does not exist
   * yet) and whose lease is free or expired at `now`.
   *
   * @throws ConcurrentUpdateError when someone else changed the record or holds the lease.
   */
  claim(ref: LeasedRef, expectedVersion: number, lease: LeaseClaim, now: number): Promise<void>;
  /** Gives up a lease without writing a token, recording why; a no-op when the lease was lost meanwhile. */
  release(ref: LeasedRef, owner: string, outcome: ReleaseOutcome, now: number): Promise<void>;

  /**
   * Writes a new component token as the lease holder: `version + 1`, lease cleared, `issuedAt = now`.
   *
   * @throws ConcurrentUpdateError when `owner` no longer holds the lease.
   */
  saveComponentToken(
    componentAppId: string,
    owner: string,
    token: {
      accessToken: string;
      expiresAt: number;
      refreshAt: number;
      forcedAt?: number;
      /** When the call that issued it began; default `now`. */
      requestedAt?: number;
    },
    now: number
  ): Promise<ComponentTokenRecord>;

  /**
   * Writes a refreshed authorizer token as the lease holder, with the refresh token WeChat returned, on the
   * record's `expectedVersion` (the one the write was decided on: a code exchange may have written since
   * the lease was claimed, architecture §3).
   *
   * @throws ConcurrentUpdateError when `owner` lost the lease, the version moved or the authorizer is no
   *   longer active.
   */
  saveAuthorizerToken(
    componentAppId: string,
    authorizerAppId: string,
    owner: string,
    token: {
      accessToken: string;
      expiresAt: number;
      refreshAt: number;
      refreshToken: string;
      forcedAt?: number;
      /** When the call that issued it began; default `now`. */
      requestedAt?: number;
    },
    now: number,
    expectedVersion?: number
  ): Promise<AuthorizerRecord>;

  /**
   * Replaces the refresh token only if it is still `expected`: used when a refresh lost its lease but WeChat
   * already returned a refresh token that must not be lost, and by 61023 recovery.
   * Returns false when the stored token is no longer `expected` (a re-authorization won). `authorizedAt`,
   * when given, is the listed authorization's time (later than the record's: an authorization that reached
   * us only through the list), so that the record is not later taken for older than WeChat's, with that
   * authorization's permission sets (`funcInfo`); `event` is written with the change
   * (`AuthorizerRecord.pendingEvents`).
   */
  replaceRefreshToken(
    componentAppId: string,
    authorizerAppId: string,
    expected: string | undefined,
    refreshToken: string,
    now: number,
    extra?: { authorizedAt?: number; funcInfo?: number[]; event?: PendingEvent }
  ): Promise<boolean>;

  /**
   * Stores an authorization (`api_query_auth`, a recovery, a reconciliation import): status active (or
   * `without_api_permission` when WeChat issued no refresh token), tokens, permissions, `version + 1`;
   * what the record knew of the token it replaces (a report check, the last failure) and an earlier end
   * are cleared, the forced-renewal back-off kept (`record-rules.ts` `authorizationFields`). A renewal's lease is left
   * in place: its holder's save then finds the version moved and decides which token is the newer one
   * (architecture §3). An authorization older than the stored one (`authorizedAt`), or a write decided
   * on another `expectedVersion`, is ignored; returns false then.
   */
  saveAuthorization(authorization: NewAuthorization, now: number): Promise<boolean>;

  /**
   * Ends an authorization: drops tokens and what was known of them, and takes the authorizer off the
   * `due` index (`record-rules.ts` `endAuthorizationWrite`). A revocation older than the stored
   * authorization is ignored (returns false), so a late `unauthorized` push cannot undo a newer
   * re-authorization; so is one whose `expectedRefreshToken` was replaced meanwhile. Creates a tombstone
   * when the authorizer is unknown.
   */
  endAuthorization(
    componentAppId: string,
    authorizerAppId: string,
    status: Exclude<AuthorizerStatus, 'active'>,
    guard: {
      /** When the ending happened (the push's CreateTime, or now). */
      eventTime: number;
      /** Only end it if this is still the stored refresh token (61023 handling). */
      expectedRefreshToken?: string;
      /** The lifecycle event of this change, written with it (`AuthorizerRecord.pendingEvents`). */
      event?: PendingEvent;
    },
    now: number
  ): Promise<boolean>;

  /**
   * The `due` index partitions that together hold a platform's active authorizers (its shards, and the
   * partition used before sharding while items still carry it: `table-schema.ts`). The sweep lists each.
   */
  duePartitions(componentAppId: string): DuePartition[];
  /**
   * Active authorizers of `partition` whose `refreshAt <= now`, oldest first, from the `due` index (never a
   * scan). Every active authorizer is in exactly one of `duePartitions`.
   */
  listDueAuthorizers(
    partition: DuePartition,
    now: number,
    limit: number,
    cursor?: string
  ): Promise<Page<AuthorizerRecord>>;

  /**
   * Stores a new code as pending; returns the existing record instead when the code is already known,
   * naming its authorizer when this writer knows it (the push) and the record did not (the redirect came
   * first): a redirect code is held until a push names it (architecture §7).
   */
  putAuthCode(
    record: Omit<AuthCodeRecord, 'version' | 'status' | 'attempts' | 'nextAttemptAt'>
  ): Promise<{ created: boolean; record: AuthCodeRecord }>;
  /**
   * Records the outcome of an exchange as the lease holder (an empty `outcomeCode` is none) and takes the
   * code off the `due` index (`record-rules.ts` `finishAuthCodeFields`).
   *
   * @throws ConcurrentUpdateError when `owner` lost the lease.
   */
  finishAuthCode(
    componentAppId: string,
    code: string,
    owner: string,
    outcome: { status: 'exchanged' | 'failed'; authorizerAppId?: string; outcomeCode?: string },
    now: number
  ): Promise<AuthCodeRecord>;
  /** Pending codes whose next attempt is due, from the `due` index. */
  listPendingAuthCodes(
    componentAppId: string,
    now: number,
    limit: number
  ): Promise<AuthCodeRecord[]>;

  /**
   * An authorizer's ticket of `type`; undefined while there is none. A first fetch's lease (`claim` at
   * version 0 creates the record) reads as a record without `ticket`.
   */
  getAuthorizerTicket(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType
  ): Promise<AuthorizerTicketRecord | undefined>;
  /**
   * Writes a new ticket as the lease holder: `version + 1`, lease cleared, `issuedAt = now`, the last
   * failure cleared, and the record (back) on its `due` partition. `servedAt` is written when given (a
   * renewal made for a caller), otherwise kept.
   *
   * @throws ConcurrentUpdateError when `owner` no longer holds the lease.
   */
  saveAuthorizerTicket(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType,
    owner: string,
    ticket: {
      ticket: string;
      expiresAt: number;
      refreshAt: number;
      forcedAt?: number;
      /** When the call that issued it began; default `now`. */
      requestedAt?: number;
      servedAt?: number;
    },
    now: number
  ): Promise<AuthorizerTicketRecord>;
  /**
   * Notes that the ticket was served at `servedAt`, unless a serve at or after `notBefore` is noted
   * already (concurrent callers write it once). False when not written (or no record).
   */
  noteTicketServed(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType,
    servedAt: number,
    notBefore: number
  ): Promise<boolean>;
  /** The `due` index partitions that together hold a platform's ticket records (`table-schema.ts`). */
  ticketDuePartitions(componentAppId: string): DuePartition[];
  /** Ticket records of `partition` whose `refreshAt <= now`, oldest first, from the `due` index. */
  listDueTickets(
    partition: DuePartition,
    now: number,
    limit: number,
    cursor?: string
  ): Promise<Page<AuthorizerTicketRecord>>;
  /**
   * Takes a ticket off the `due` index unless it was served at or after `servedBefore` (a serve noted
   * meanwhile keeps it there); the record stays readable, and DynamoDB's TTL removes it after the
   * retention period unless a later save brings it back. True when taken off.
   */
  retireTicket(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType,
    servedBefore: number,
    now: number
  ): Promise<boolean>;

  /**
   * Counts one use in `window` unless `limit` uses are counted there already. One atomic conditional write,
   * so callers in any number of containers never count past the limit together. True when counted.
   */
  spendBudget(window: BudgetWindow, limit: number): Promise<boolean>;

  /** Takes a lifecycle event off the authorizer's `pendingEvents` once the outbox holds it; a no-op when gone. */
  settlePendingEvent(componentAppId: string, authorizerAppId: string, id: string): Promise<void>;
  /**
   * Authorizers with events still pending (their writer stopped before the outbox got them), a page at a
   * time: a filtered Scan, for the scheduled reconciliation only.
   */
  listAuthorizersWithPendingEvents(
    componentAppId: string,
    options: { limit: number; cursor?: string }
  ): Promise<Page<AuthorizerRecord>>;

  /**
   * Records an unpublished event, due from `publishAt`; false (and nothing changed) when an event with this
   * id is already recorded, published or not: a change recorded twice is published once.
   */
  putOutboxEvent(
    record: Omit<OutboxEventRecord, 'attempts' | 'publishedAt' | 'lastError' | 'publishAt'> & {
      publishAt: number;
    }
  ): Promise<boolean>;
  /** Unpublished events whose `publishAt <= now`, oldest first, from the `due` index. */
  listDueOutboxEvents(
    componentAppId: string,
    now: number,
    limit: number
  ): Promise<OutboxEventRecord[]>;
  /** Takes the event off the due list for good; DynamoDB's TTL removes it later. A no-op when unknown. */
  markOutboxEventPublished(componentAppId: string, id: string, now: number): Promise<void>;
  /**
   * Counts a failed attempt and moves the event's next attempt to `retryAt`. A no-op once it was published
   * (a concurrent publish got through).
   */
  deferOutboxEvent(
    componentAppId: string,
    id: string,
    failure: { retryAt: number; error: string }
  ): Promise<void>;

  /**
   * Every authorizer of the platform (or only those in `status`), without their tokens, for operators. Pages
   * follow a stable order; a page may hold fewer than `limit` items, even none, and still have a cursor:
   * continue while there is one. A paginated Scan of the table (`begins_with(pk, 'AUTHORIZER#<c>#')`): it
   * reads every item, so only the operator jobs use it, never a request path.
   *
   * @throws InvalidRequestError for a cursor this store did not issue.
   */
  listAuthorizers(
    componentAppId: string,
    options: { status?: AuthorizerStatus; limit: number; cursor?: string }
  ): Promise<Page<AuthorizerSummary>>;

  /** Keeps `record` as its job's last run unless a run that finished later is kept; true when kept. */
  putRunRecord(record: RunRecord): Promise<boolean>;
  getRunRecord(componentAppId: string, job: RunJob): Promise<RunRecord | undefined>;
}
