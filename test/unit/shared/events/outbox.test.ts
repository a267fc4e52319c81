import { describe, expect, it } from 'vitest';
import type { LifecycleChange } from '../../../../shared/events/lifecycle-event';
import {
  EVENT_FLUSH_PAGE,
  type EventContext,
  emitLifecycleEvent,
  flushLifecycleEvents,
} from '../../../../shared/events/outbox';
import type { EventPublisher } from '../../../../shared/events/publisher';
import { MetricName } from '../../../../shared/log';
import { EVENT_PUBLISH_GRACE_MS } from '../../../../shared/policy';
import type { TokenStore } from '../../../../shared/store/token-store';
import { MemoryTokenStore } from '../../../support/memory-token-store';
import { recordingLog, recordingMetrics } from '../../../support/recorders';
import { recordingPublisher } from '../../../support/recording-publisher';

const C = 'wxcomponent000001';
const T0 = 1_800_000_000_000;

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

describe('emitLifecycleEvent', () => {
  it('records the event, publishes it at once and takes it off the due list', async () => {
    const { ctx, store, publisher } = setup();
    await emitLifecycleEvent(ctx, change('wxauthorizer00001'));
    expect(publisher.summary()).toEqual(['revoked wxauthorizer00001 push']);
    expect([...store.outbox.values()]).toEqual([
      expect.objectContaining({ id: publisher.published[0]!.id, publishedAt: T0, attempts: 0 }),
    ]);
    expect(await due(store, T0 + 365 * 86_400_000)).toEqual([]);
  });

  it('publishes a change recorded twice once', async () => {
    const { ctx, publisher, log } = setup();
    await emitLifecycleEvent(ctx, change('wxauthorizer00001'));
    await Promise.all([
      emitLifecycleEvent(ctx, change('wxauthorizer00001')),
      emitLifecycleEvent(ctx, change('wxauthorizer00001')),
    ]);
    await emitLifecycleEvent(ctx, change('wxauthorizer00001', T0 + 1000));
    expect(publisher.summary()).toEqual([
      'revoked wxauthorizer00001 push',
      'revoked wxauthorizer00001 push',
    ]);
    expect(new Set(publisher.published.map((e) => e.id)).size).toBe(2);
    expect(log.text()).toContain('lifecycle event already recorded');
  });

  it('leaves a refused event due at once for the next flush, which publishes it once', async () => {
    const { ctx, store, publisher, log } = setup();
    publisher.failNext();
    await emitLifecycleEvent(ctx, change('wxauthorizer00001'));
    expect(publisher.published).toEqual([]);
    expect(await due(store, T0)).toEqual([
      expect.objectContaining({ attempts: 1, lastError: 'InternalFailure', publishAt: T0 }),
    ]);
    expect(log.entries.map((e) => e.level)).toContain('warn');

    expect(await flushLifecycleEvents(ctx, T0 + 60_000)).toEqual({ published: 1, failed: 0 });
    expect(await flushLifecycleEvents(ctx, T0 + 60_000)).toEqual({ published: 0, failed: 0 });
    expect(publisher.summary()).toEqual(['revoked wxauthorizer00001 push']);
  });

  it('a publisher that throws is a failed publish, and the caller never sees it', async () => {
    const { ctx, store } = setup({
      events: {
        publish: () => Promise.reject(new Error('socket hang up')),
      },
    });
    await expect(emitLifecycleEvent(ctx, change('wxauthorizer00001'))).resolves.toBeUndefined();
    expect(await due(store, T0)).toEqual([
      expect.objectContaining({ attempts: 1, lastError: 'internal_error' }),
    ]);
  });

  it('an outbox the store cannot write is logged as a lost event, never thrown', async () => {
    const broken = new MemoryTokenStore();
    broken.putOutboxEvent = () => Promise.reject(new Error('DynamoDB down'));
    const { ctx, publisher, log, metrics } = setup({ store: broken });
    await expect(emitLifecycleEvent(ctx, change('wxauthorizer00001'))).resolves.toBeUndefined();
    expect(publisher.attempts).toBe(0);
    expect(metrics.total(MetricName.LifecycleEventLost)).toBe(1);
    expect(log.entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'lifecycle event could not be recorded and is lost',
      })
    );
  });

  it('records nothing without a publisher (events off)', async () => {
    const { ctx, store } = setup({ events: null });
    await emitLifecycleEvent(ctx, change('wxauthorizer00001'));
    expect(store.outbox.size).toBe(0);
  });
});

describe('flushLifecycleEvents', () => {
  /** An event whose writer died after recording it: in the outbox, never published. */
  const orphan = (store: MemoryTokenStore, id: string, createdAt = T0) =>
    store.putOutboxEvent({
      componentAppId: C,
      id,
      type: 'authorized',
      detail: JSON.stringify({ id, type: 'authorized', authorizerAppId: 'wxauthorizer00001' }),
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
