import { describe, expect, it } from 'vitest';
import type { LifecycleChange } from '../../../../shared/events/lifecycle-event';
import {
  EVENT_FLUSH_PAGE,
  type EventContext,
  flushLifecycleEvents,
  pendingEventOf,
  settleOrphanedEvents,
  settlePendingEvents,
} from '../../../../shared/events/outbox';
import type { EventPublisher } from '../../../../shared/events/publisher';
import { MetricName } from '../../../../shared/log';
import { EVENT_PUBLISH_GRACE_MS } from '../../../../shared/policy';
import type { TokenStore } from '../../../../shared/store/token-store';
import { MemoryTokenStore } from '../../../support/memory-token-store';
import { recordingLog, recordingMetrics } from '../../../support/recorders';
import { recordingPublisher } from '../../../support/recording-publisher';
import {
  AUTHORIZER_APPID as A,
  OTHER_AUTHORIZER_APPID as B,
  COMPONENT_APPID as C,
  T0,
} from '../../../support/test-ids';

function setup(options: { events?: EventPublisher | null; store?: TokenStore } = {}) {
  const store = new MemoryTokenStore();
  const publisher = recordingPublisher();
  const clock = { now: T0 };
  const log = recordingLog();
  const metrics = recordingMetrics();
  const ctx: EventContext = {
    componentAppId: C,
    store: options.store ?? store,
    ...(options.events === null ? {} : { events: options.events ?? publisher }),
    clock: () => clock.now,
    log,
    metrics,
  };
  return { ctx, store, publisher, clock, log, metrics };
}

const change = (authorizerAppId: string, at = T0): LifecycleChange => ({
  type: 'revoked',
  authorizerAppId,
  status: 'revoked',
  permissionSetIds: [1],
  reason: 'push',
  at,
});
const due = (store: MemoryTokenStore, now: number) => store.listDueOutboxEvents(C, now, 100);

/**
 * A state change with its event, as every writer makes it: the event goes into the change's own write
 * (here, a revocation), then the writer moves it to the outbox, unless `stop` (the writer died first).
 */
async function revokeWithEvent(
  ctx: EventContext,
  store: TokenStore,
  lifecycle: LifecycleChange,
  options: { stop?: boolean } = {}
) {
  await store.endAuthorization(
    C,
    lifecycle.authorizerAppId,
    'revoked',
    { eventTime: lifecycle.at, event: pendingEventOf(ctx, lifecycle) },
    lifecycle.at
  );
  if (!options.stop) await settlePendingEvents(ctx, lifecycle.authorizerAppId);
}
const pendingOn = async (store: TokenStore, authorizerAppId: string) =>
  (await store.getAuthorizer(C, authorizerAppId))?.pendingEvents ?? [];

describe('events written with their state change', () => {
  it('records the event, publishes it at once and takes it off the item and the due list', async () => {
    const { ctx, store, publisher } = setup();
    await revokeWithEvent(ctx, store, change(A));
    expect(publisher.summary()).toEqual([`revoked ${A} push`]);
    expect([...store.outbox.values()]).toEqual([
      expect.objectContaining({ id: publisher.published[0]!.id, publishedAt: T0, attempts: 0 }),
    ]);
    expect(await pendingOn(store, A)).toEqual([]);
    expect(await due(store, T0 + 365 * 86_400_000)).toEqual([]);
  });

  it('publishes a change recorded twice once', async () => {
    const { ctx, store, publisher, log } = setup();
    await revokeWithEvent(ctx, store, change(A));
    await Promise.all([
      revokeWithEvent(ctx, store, change(A)),
      revokeWithEvent(ctx, store, change(A)),
    ]);
    await revokeWithEvent(ctx, store, change(A, T0 + 1000));
    expect(publisher.summary()).toEqual([`revoked ${A} push`, `revoked ${A} push`]);
    expect(new Set(publisher.published.map((e) => e.id)).size).toBe(2);
    expect(log.text()).toContain('lifecycle event already recorded');
  });

  it('leaves a refused event due at once for the next flush, which publishes it once', async () => {
    const { ctx, store, publisher, log } = setup();
    publisher.failNext();
    await revokeWithEvent(ctx, store, change(A));
    expect(publisher.published).toEqual([]);
    expect(await due(store, T0)).toEqual([
      expect.objectContaining({ attempts: 1, lastError: 'InternalFailure', publishAt: T0 }),
    ]);
    expect(log.entries.map((e) => e.level)).toContain('warn');

    expect(await flushLifecycleEvents(ctx, T0 + 60_000)).toEqual({ published: 1, failed: 0 });
    expect(await flushLifecycleEvents(ctx, T0 + 60_000)).toEqual({ published: 0, failed: 0 });
    expect(publisher.summary()).toEqual([`revoked ${A} push`]);
  });

  it('names the authorizer on each line it writes while settling', async () => {
    const { ctx, store, publisher, log } = setup();
    publisher.failNext();
    await revokeWithEvent(ctx, store, change(A));
    const broken = new MemoryTokenStore();
    broken.putOutboxEvent = () => Promise.reject(new Error('DynamoDB down'));
    const other = setup({ store: broken });
    await revokeWithEvent(other.ctx, broken, change(B));

    expect(log.entries).toContainEqual({
      level: 'warn',
      message: 'lifecycle event not published; the next scheduled run retries',
      fields: { authorizerAppId: A, failed: 1 },
    });
    expect(other.log.entries).toContainEqual({
      level: 'warn',
      message: 'lifecycle events not settled; a retried push or the schedule moves them',
      fields: { authorizerAppId: B, code: expect.any(String) },
    });
  });

  it('a publisher that throws is a failed publish, and the caller never sees it', async () => {
    const { ctx, store } = setup({
      events: {
        publish: () => Promise.reject(new Error('socket hang up')),
      },
    });
    await expect(revokeWithEvent(ctx, store, change(A))).resolves.toBeUndefined();
    expect(await due(store, T0)).toEqual([
      expect.objectContaining({ attempts: 1, lastError: 'internal_error' }),
    ]);
  });

  it('an outbox the store cannot write leaves the event on the item, never lost nor thrown: the next settle moves it', async () => {
    const broken = new MemoryTokenStore();
    const putOutboxEvent = broken.putOutboxEvent.bind(broken);
    broken.putOutboxEvent = () => Promise.reject(new Error('DynamoDB down'));
    const { ctx, publisher, log } = setup({ store: broken });
    await expect(revokeWithEvent(ctx, broken, change(A))).resolves.toBeUndefined();
    expect(publisher.attempts).toBe(0);
    expect(await pendingOn(broken, A)).toHaveLength(1);
    expect(log.text()).toContain('lifecycle events not settled');

    broken.putOutboxEvent = putOutboxEvent;
    await settlePendingEvents(ctx, A);
    expect(publisher.summary()).toEqual([`revoked ${A} push`]);
    expect(await pendingOn(broken, A)).toEqual([]);
  });

  it('an event whose writer stopped after the state change is published by the reconciliation’s sweep, once', async () => {
    const { ctx, store, publisher, metrics } = setup();
    await revokeWithEvent(ctx, store, change(A), { stop: true });
    await revokeWithEvent(ctx, store, change(B));
    expect(publisher.summary()).toEqual([`revoked ${B} push`]);

    expect(await settleOrphanedEvents(ctx, T0 + 60_000)).toBe(1);
    expect(await settleOrphanedEvents(ctx, T0 + 60_000)).toBe(0);
    expect(publisher.summary()).toEqual([`revoked ${B} push`, `revoked ${A} push`]);
    expect(metrics.total(MetricName.LifecycleEventsRecovered)).toBe(1);
  });

  it('records nothing without a publisher (events off)', async () => {
    const { ctx, store } = setup({ events: null });
    await revokeWithEvent(ctx, store, change(A));
    expect(store.outbox.size).toBe(0);
    expect(await pendingOn(store, A)).toEqual([]);
  });
});

describe('flushLifecycleEvents', () => {
  /** An event whose writer died after recording it: in the outbox, never published. */
  const orphan = (store: MemoryTokenStore, id: string, createdAt = T0) =>
    store.putOutboxEvent({
      componentAppId: C,
      id,
      type: 'authorized',
      detail: JSON.stringify({ id, type: 'authorized', authorizerAppId: A }),
      createdAt,
      publishAt: createdAt + EVENT_PUBLISH_GRACE_MS,
    });

  it('leaves a fresh event to its writer, and takes over once the grace has passed', async () => {
    const { ctx, store, publisher, clock } = setup();
    await orphan(store, 'e1');
    expect(await flushLifecycleEvents(ctx, T0 + 600_000)).toEqual({ published: 0, failed: 0 });
    clock.now = T0 + EVENT_PUBLISH_GRACE_MS;
    expect(await flushLifecycleEvents(ctx, T0 + 600_000)).toEqual({ published: 1, failed: 0 });
    expect(publisher.published.map((e) => e.id)).toEqual(['e1']);
  });

  it('drains more than one page, oldest first', async () => {
    const { ctx, store, publisher, clock } = setup();
    const count = EVENT_FLUSH_PAGE + 5;
    for (let i = 0; i < count; i += 1) await orphan(store, `e${i}`, T0 + i);
    clock.now = T0 + count + EVENT_PUBLISH_GRACE_MS;
    expect(await flushLifecycleEvents(ctx, clock.now + 600_000)).toEqual({
      published: count,
      failed: 0,
    });
    expect(publisher.published.map((e) => e.id)).toEqual(
      Array.from({ length: count }, (_, i) => `e${i}`)
    );
  });

  it('stops at the first refused publish, and the next run publishes what is left', async () => {
    const { ctx, store, publisher, clock, log, metrics } = setup();
    for (let i = 0; i < EVENT_FLUSH_PAGE + 5; i += 1) await orphan(store, `e${i}`);
    clock.now = T0 + EVENT_PUBLISH_GRACE_MS;
    publisher.failNext();
    expect(await flushLifecycleEvents(ctx, clock.now + 600_000)).toEqual({
      published: 0,
      failed: EVENT_FLUSH_PAGE,
    });
    expect(publisher.attempts).toBe(1);
    expect(log.text()).toContain('lifecycle events not published');
    expect(metrics.total(MetricName.LifecycleEventsUnpublished)).toBe(EVENT_FLUSH_PAGE);
    expect(await flushLifecycleEvents(ctx, clock.now + 600_000)).toEqual({
      published: EVENT_FLUSH_PAGE + 5,
      failed: 0,
    });
    expect(metrics.total(MetricName.LifecycleEventsUnpublished)).toBe(EVENT_FLUSH_PAGE);
    expect(new Set(publisher.published.map((e) => e.id)).size).toBe(EVENT_FLUSH_PAGE + 5);
  });

  it('does nothing past its stop time, and never throws when the store fails', async () => {
    const { ctx, store, publisher, clock } = setup();
    await orphan(store, 'e1');
    clock.now = T0 + EVENT_PUBLISH_GRACE_MS;
    expect(await flushLifecycleEvents(ctx, clock.now)).toEqual({ published: 0, failed: 0 });
    store.listDueOutboxEvents = () => Promise.reject(new Error('DynamoDB down'));
    expect(await flushLifecycleEvents(ctx, clock.now + 1)).toEqual({ published: 0, failed: 0 });
    expect(publisher.attempts).toBe(0);
  });
});
