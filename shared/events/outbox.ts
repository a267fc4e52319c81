import type { Clock } from '../clock';
import { errorCode } from '../errors';
import { type Log, MetricName, type Metrics } from '../log';
import { EVENT_PUBLISH_GRACE_MS } from '../policy';
import type {
  AuthorizerRecord,
  NewAuthorization,
  OutboxEventRecord,
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
 *   state write ✔ ── outbox put (due in EVENT_PUBLISH_GRACE_MS) ── PutEvents ── mark published
 *                                                          ✘ ── defer: due at once ── next scheduled flush
 *
 * - at least once: an event is recorded before it is published and leaves the due list only once the bus
 *   accepted it; a failed publish, or a writer that died after recording it, is published by the next
 *   scheduled run ({@link flushLifecycleEvents});
 * - once per change: the outbox item is keyed by the event's id (a digest of the change), so a change
 *   recorded twice (a duplicate push, two handlers) is published once; a publish that succeeded but was not
 *   marked (crash, or a flush racing the writer) is published again with the same id, which consumers drop;
 * - what remains: a crash between the state write and the outbox put (two consecutive DynamoDB calls in one
 *   invocation) loses the event; so does an outbox put that fails after the SDK's retries, which is logged
 *   as an error. The state itself is never rolled back for an event.
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

const logFields = (event: LifecycleEvent) => ({
  kind: event.type,
  authorizerAppId: event.authorizerAppId,
  reason: event.reason,
});

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
 * Records a lifecycle change in the outbox and publishes it, right after the store write that made it
 * (see the module comment for the guarantees). Never throws: the change is stored whatever happens to its
 * event, and what could not be recorded is logged as an error.
 */
export async function emitLifecycleEvent(ctx: EventContext, change: LifecycleChange) {
  const { events } = ctx;
  if (!events) return;
  const event = lifecycleEvent(ctx.componentAppId, change);
  const createdAt = ctx.clock();
  const record = {
    componentAppId: ctx.componentAppId,
    id: event.id,
    type: event.type,
    detail: JSON.stringify(event),
    createdAt,
    publishAt: createdAt + EVENT_PUBLISH_GRACE_MS,
  };
  try {
    if (!(await ctx.store.putOutboxEvent(record))) {
      ctx.log.info('lifecycle event already recorded; not published again', logFields(event));
      return;
    }
  } catch (error) {
    ctx.log.error('lifecycle event could not be recorded and is lost', {
      ...logFields(event),
      code: errorCode(error),
    });
    ctx.metrics.count(MetricName.LifecycleEventLost);
    return;
  }
  try {
    const outcome = await publishRecorded(
      { ...ctx, events },
      [{ ...record, attempts: 0 }],
      createdAt
    );
    if (outcome.failed > 0) {
      ctx.log.warn(
        'lifecycle event not published; the next scheduled run retries',
        logFields(event)
      );
    }
  } catch (error) {
    ctx.log.warn('lifecycle event not settled; the next scheduled run retries', {
      ...logFields(event),
      code: errorCode(error),
    });
  }
}

/**
 * The authorizer as it is before a change, for {@link emitAuthorizationStored} to tell what changed; not
 * read when events are off.
 */
export async function authorizerBeforeChange(
  ctx: EventContext,
  authorizerAppId: string
): Promise<AuthorizerRecord | undefined> {
  return ctx.events ? ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId) : undefined;
}

/**
 * Emits the event, if any, of storing an authorization over `previous` (the record read before the write):
 * see {@link authorizationEventType}. `change.at` is the authorization's time.
 */
export function emitAuthorizationStored(
  ctx: EventContext,
  previous: AuthorizerRecord | undefined,
  stored: {
    authorizerAppId: string;
    refreshToken?: string;
    funcInfo: number[];
    withoutRefreshToken?: NewAuthorization['withoutRefreshToken'];
  },
  change: { at: number; reason: LifecycleReason }
): Promise<void> {
  const { reason } = change;
  const status = stored.refreshToken
    ? 'active'
    : (stored.withoutRefreshToken ?? 'without_api_permission');
  const type = authorizationEventType(previous, { status, funcInfo: stored.funcInfo }, reason);
  if (!type) return Promise.resolve();
  return emitLifecycleEvent(ctx, {
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
