import type { Clock } from '../clock';
import { errorCode } from '../errors';
import { type Log, MetricName, type Metrics, withLogFields } from '../log';
import { EVENT_PUBLISH_GRACE_MS } from '../policy';
import type {
  AuthorizerRecord,
  NewAuthorization,
  OutboxEventRecord,
  PendingEvent,
  TokenStore,
} from '../store/token-store';
import {
  authorizationEventType,
  type LifecycleChange,
  type LifecycleEvent,
  type LifecycleReason,
  lifecycleEvent,
} from './lifecycle-event';
import type { EventPublisher } from './publisher';

/**
 * The transactional outbox for lifecycle events, on single-item writes (the token table has no
 * transactions here: dynalite has none, and the store uses none):
 *
 *   state write + event on the item ✔ ── outbox put ── off the item ── PutEvents ── mark published
 *                                                                         ✘ ── defer ── next scheduled flush
 *
 * - never lost: the event is appended to the authorizer item's `pendingEvents` by the very `UpdateItem`
 *   that makes the change, so there is no moment when the change is stored and its event is not. The
 *   writer then moves it to the outbox ({@link settlePendingEvents}); one whose writer stopped first (or
 *   whose outbox write was refused) is moved by the next write of that authorizer, WeChat's retry of the
 *   push (which finds the state applied and the event still pending), the sweep that renews the
 *   authorizer, or the scheduled reconciliation's Scan ({@link settleOrphanedEvents});
 * - at least once: an event leaves the due list only once the bus accepted it; a failed publish is
 *   published by the next scheduled run ({@link flushLifecycleEvents});
 * - once per change: the outbox item is keyed by the event's id (a digest of the change), so a change
 *   recorded twice (a duplicate push, two handlers) is published once; a publish that succeeded but was not
 *   marked is published again with the same id, which consumers drop.
 *
 * @see https://docs.aws.amazon.com/prescriptive-guidance/latest/cloud-design-patterns/transactional-outbox.html
 */

/** Due events one flush query reads; the flush reads again while pages come back full. */
export const EVENT_FLUSH_PAGE = 100;

/** What emitting and flushing need; a `TokenContext` is one. Without `events`, nothing is recorded. */
export interface EventContext {
  componentAppId: string;
  store: TokenStore;
  events?: EventPublisher;
  clock: Clock;
  log: Log;
  metrics: Metrics;
}

export interface FlushSummary {
  published: number;
  failed: number;
}

/**
 * Publishes recorded events and settles each: accepted → published; refused → its next attempt moved to
 * `retryAt`, attempts counted.
 */
async function publishRecorded(
  ctx: EventContext & { events: EventPublisher },
  records: readonly OutboxEventRecord[],
  retryAt: number
): Promise<FlushSummary> {
  const events = records.map((record) => JSON.parse(record.detail) as LifecycleEvent);
  let failed: Map<string, string>;
  try {
    const outcome = await ctx.events.publish(events);
    failed = new Map(outcome.failed.map((f) => [f.id, f.error]));
  } catch (error) {
    failed = new Map(records.map((r) => [r.id, errorCode(error)]));
  }
  const now = ctx.clock();
  await Promise.all(
    records.map((record) => {
      const error = failed.get(record.id);
      return error === undefined
        ? ctx.store.markOutboxEventPublished(ctx.componentAppId, record.id, now)
        : ctx.store.deferOutboxEvent(ctx.componentAppId, record.id, { retryAt, error });
    })
  );
  return { published: records.length - failed.size, failed: failed.size };
}

/**
 * The lifecycle event of `change`, to be written with the state change itself (`NewAuthorization.event`,
 * `endAuthorization`'s guard, `replaceRefreshToken`), then moved to the outbox by
 * {@link settlePendingEvents}. Undefined when events are off.
 */
export function pendingEventOf(
  ctx: EventContext,
  change: LifecycleChange
): PendingEvent | undefined {
  if (!ctx.events) return undefined;
  const event = lifecycleEvent(ctx.componentAppId, change);
  return { id: event.id, type: event.type, detail: JSON.stringify(event), createdAt: ctx.clock() };
}

/**
 * Moves the authorizer's pending events (the one its writer just made, and any a writer that stopped
 * left) to the outbox, takes them off the item, and publishes those newly recorded (see the module comment
 * for the guarantees). Never throws: what is left pending is moved by the next write, a retried push or the
 * scheduled reconciliation; what could not be published by the next scheduled run.
 */
export async function settlePendingEvents(
  ctx: EventContext,
  authorizerAppId: string,
  known?: AuthorizerRecord
): Promise<void> {
  const { events } = ctx;
  if (!events) return;
  const log = withLogFields(ctx.log, { authorizerAppId });
  try {
    const record = known ?? (await ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId));
    const recorded: OutboxEventRecord[] = [];
    for (const pending of record?.pendingEvents ?? []) {
      const outboxed = {
        componentAppId: ctx.componentAppId,
        ...pending,
        publishAt: pending.createdAt + EVENT_PUBLISH_GRACE_MS,
      };
      if (await ctx.store.putOutboxEvent(outboxed)) recorded.push({ ...outboxed, attempts: 0 });
      else
        log.info('lifecycle event already recorded; not published again', { kind: pending.type });
      await ctx.store.settlePendingEvent(ctx.componentAppId, authorizerAppId, pending.id);
    }
    if (recorded.length === 0) return;
    const outcome = await publishRecorded({ ...ctx, events }, recorded, ctx.clock());
    if (outcome.failed > 0) {
      log.warn('lifecycle event not published; the next scheduled run retries', {
        failed: outcome.failed,
      });
    }
  } catch (error) {
    log.warn('lifecycle events not settled; a retried push or the schedule moves them', {
      code: errorCode(error),
    });
  }
}

/**
 * The scheduled reconciliation's sweep for events whose writer stopped between the state change and the
 * outbox (a crash, a timeout): a filtered Scan of the authorizer items, until none is left or `stopAt`.
 * Returns how many authorizers had some.
 */
export async function settleOrphanedEvents(ctx: EventContext, stopAt: number): Promise<number> {
  if (!ctx.events) return 0;
  let found = 0;
  let cursor: string | undefined;
  do {
    const page = await ctx.store.listAuthorizersWithPendingEvents(ctx.componentAppId, {
      limit: EVENT_FLUSH_PAGE,
      cursor,
    });
    for (const record of page.items) {
      found += 1;
      await settlePendingEvents(ctx, record.authorizerAppId, record);
    }
    cursor = page.cursor;
  } while (cursor && ctx.clock() < stopAt);
  if (found > 0) {
    ctx.metrics.count(MetricName.LifecycleEventsRecovered, found);
    ctx.log.warn('moved lifecycle events a writer left on their authorizers to the outbox', {
      authorizers: found,
    });
  }
  return found;
}

/**
 * The authorizer as it is before a change, for {@link authorizationEventOf} to tell what changed; not
 * read when events are off.
 */
export async function authorizerBeforeChange(
  ctx: EventContext,
  authorizerAppId: string
): Promise<AuthorizerRecord | undefined> {
  return ctx.events ? ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId) : undefined;
}

/**
 * The event, if any, of storing an authorization over `previous` (the record read before the write): see
 * {@link authorizationEventType}. `change.at` is the authorization's time.
 */
export function authorizationEventOf(
  ctx: EventContext,
  previous: AuthorizerRecord | undefined,
  stored: {
    authorizerAppId: string;
    refreshToken?: string;
    funcInfo: number[];
    withoutRefreshToken?: NewAuthorization['withoutRefreshToken'];
  },
  change: { at: number; reason: LifecycleReason }
): PendingEvent | undefined {
  const { reason } = change;
  const status = stored.refreshToken
    ? 'active'
    : (stored.withoutRefreshToken ?? 'without_api_permission');
  const type = authorizationEventType(previous, { status, funcInfo: stored.funcInfo }, reason);
  if (!type) return undefined;
  return pendingEventOf(ctx, {
    type,
    authorizerAppId: stored.authorizerAppId,
    status,
    permissionSetIds: stored.funcInfo,
    reason,
    at: change.at,
  });
}

/**
 * The scheduled run's outbox flush: publishes every event that is due (its writer failed to publish it, or
 * died first) until none is left, a publish fails (the bus is in trouble: the next run retries) or
 * `stopAt` comes. Never throws; logs what it did.
 */
export async function flushLifecycleEvents(
  ctx: EventContext,
  stopAt: number
): Promise<FlushSummary> {
  const summary: FlushSummary = { published: 0, failed: 0 };
  const { events } = ctx;
  if (!events) return summary;
  try {
    while (ctx.clock() < stopAt) {
      const now = ctx.clock();
      const due = await ctx.store.listDueOutboxEvents(ctx.componentAppId, now, EVENT_FLUSH_PAGE);
      if (due.length === 0) break;
      const outcome = await publishRecorded({ ...ctx, events }, due, now);
      summary.published += outcome.published;
      summary.failed += outcome.failed;
      if (outcome.failed > 0 || due.length < EVENT_FLUSH_PAGE) break;
    }
  } catch (error) {
    ctx.log.error('lifecycle event flush stopped; the next scheduled run retries', {
      code: errorCode(error),
    });
  }
  if (summary.failed > 0) {
    ctx.metrics.count(MetricName.LifecycleEventsUnpublished, summary.failed);
    ctx.log.warn('lifecycle events not published; the next scheduled run retries', { ...summary });
  } else if (summary.published > 0) {
    ctx.log.info('lifecycle events published by the scheduled flush', { ...summary });
  }
  return summary;
}
