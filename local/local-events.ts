import { LIFECYCLE_EVENT_SOURCE } from '../shared/events/lifecycle-event';
import {
  type BusEvent,
  busEntry,
  type EventPublisher,
  isLifecycleEvent,
} from '../shared/events/publisher';
import type { Log } from '../shared/log';

/** What an EventBridge rule's target receives, as far as the service sets it. */
export interface LocalEventEnvelope {
  source: typeof LIFECYCLE_EVENT_SOURCE;
  'detail-type': string;
  time: string;
  detail: BusEvent;
}

/** A page of `GET /local/events`: the events after the cursor given, and the cursor to give next. */
export interface LocalEventPage {
  events: LocalEventEnvelope[];
  cursor: string;
}

/** The sandbox's stand-in for the EventBridge bus; `published` is oldest first. */
export interface LocalEventBus extends EventPublisher {
  readonly published: readonly LocalEventEnvelope[];
  /**
   * The events published after `cursor` (a previous page's), oldest first, or every event kept without
   * one; and the cursor that comes after them. The cursor is opaque to callers: the number of events
   * published since start. Events dropped from the kept window are not in a page.
   *
   * @throws InvalidEventCursorError for a cursor this bus never gave.
   */
  page(cursor?: string): LocalEventPage;
  /** Resolves when the webhook deliveries started so far have ended (delivered or failed). */
  delivered(): Promise<void>;
}

/** A `cursor` that is not one `GET /local/events` answered. */
export class InvalidEventCursorError extends Error {
  override readonly name = 'InvalidEventCursorError';
  constructor(cursor: string) {
    super(`cursor ${JSON.stringify(cursor)} is not one GET /local/events answered`);
  }
}

/** Where the sandbox POSTs each event it publishes (`EVENTS_WEBHOOK_URL`). */
export interface EventWebhook {
  url: string;
  /** @default 2000: a slow consumer delays the next delivery, never the service. */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** A webhook delivery's time limit. */
export const EVENT_WEBHOOK_TIMEOUT_MS = 2_000;

/** The sandbox keeps this many events, dropping the oldest: a week-long run stays small. */
export const LOCAL_EVENTS_KEPT = 1_000;

/**
 * The sandbox's event bus: accepts every event, writes one console line for each lifecycle event
 * (`lifecycle event published kind=authorized authorizerAppId=wx… reason=redirect permissions=1,2`) or
 * message (`wechat message published detailType=wechat.event authorizerAppId=wx… msgType=event
 * event=subscribe`), and keeps it for `GET /local/events`. With a `webhook`, each envelope is also POSTed
 * there as JSON, one at a time in publishing order, in the background: a delivery that fails or takes
 * longer than its timeout is logged (`event webhook failed …`) and dropped, and the publish never waits.
 */
export function localEventBus(
  log: Log,
  kept = LOCAL_EVENTS_KEPT,
  webhook?: EventWebhook
): LocalEventBus {
  const published: LocalEventEnvelope[] = [];
  /** Events published since start: the cursor after the newest. */
  let count = 0;
  let deliveries: Promise<void> = Promise.resolve();
  const deliver = (envelope: LocalEventEnvelope) => {
    if (!webhook) return;
    const post = webhook.fetch ?? fetch;
    const timeoutMs = webhook.timeoutMs ?? EVENT_WEBHOOK_TIMEOUT_MS;
    deliveries = deliveries.then(async () => {
      try {
        const response = await post(webhook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(envelope),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        if (!response.ok) {
          log.warn('event webhook failed', {
            url: webhook.url,
            detailType: envelope['detail-type'],
            status: response.status,
          });
        }
      } catch (error) {
        log.warn('event webhook failed', {
          url: webhook.url,
          detailType: envelope['detail-type'],
          errorName: (error as Error).name,
        });
      }
    });
  };
  return {
    published,
    page(cursor) {
      const first = count - published.length;
      if (cursor === undefined) return { events: [...published], cursor: String(count) };
      const after = /^(0|[1-9][0-9]{0,15})$/.test(cursor) ? Number(cursor) : Number.NaN;
      if (!(after <= count)) throw new InvalidEventCursorError(cursor);
      return { events: published.slice(Math.max(0, after - first)), cursor: String(count) };
    },
    delivered: () => deliveries,
    async publish(events) {
      for (const event of events) {
        const { detailType, time } = busEntry(event);
        const envelope: LocalEventEnvelope = {
          source: LIFECYCLE_EVENT_SOURCE,
          'detail-type': detailType,
          time,
          detail: event,
        };
        published.push(envelope);
        count++;
        if (isLifecycleEvent(event)) {
          log.info('lifecycle event published', {
            kind: event.type,
            authorizerAppId: event.authorizerAppId,
            reason: event.reason,
            permissions: event.permissionSetIds.join(','),
          });
        } else {
          log.info('wechat message published', {
            detailType,
            authorizerAppId: event.authorizerAppId,
            msgType: event.msgType,
            event: event.event,
          });
        }
        deliver(envelope);
      }
      published.splice(0, Math.max(0, published.length - kept));
      return { failed: [] };
    },
  };
}
