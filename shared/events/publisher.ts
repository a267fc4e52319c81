import type { LifecycleEvent } from './lifecycle-event';
import { type WechatMessageEvent, wechatMessageDetailType } from './wechat-message-event';

/** What goes on the bus: lifecycle events (the outbox's) and authorized accounts' messages and events. */
export type BusEvent = LifecycleEvent | WechatMessageEvent;

export const isLifecycleEvent = (event: BusEvent): event is LifecycleEvent => 'type' in event;

/**
 * How an event goes on the bus: a lifecycle event's `detail-type` is its `type` (`authorized`, …), a
 * message's `wechat.message` or `wechat.event`; the `time` is when the change or the push happened.
 */
export function busEntry(event: BusEvent): { detailType: string; time: string } {
  return isLifecycleEvent(event)
    ? { detailType: event.type, time: event.time }
    : { detailType: wechatMessageDetailType(event), time: event.time };
}

/** What a publish attempt left undelivered. */
export interface PublishOutcome {
  /** Events the bus did not accept, by id, with the bus's error (e.g. `ThrottlingException`). */
  failed: { id: string; error: string }[];
}

/**
 * Where bus events go: the stack's EventBridge bus in AWS (`functions/lib/event-bridge-publisher.ts`), an
 * in-process list in the sandbox (`local/local-events.ts`). Delivery failures are reported in the outcome,
 * not thrown: the outbox (`outbox.ts`) keeps lifecycle events that failed for the next scheduled run; the
 * message intake answers WeChat with an error so that WeChat delivers the push again.
 */
export interface EventPublisher {
  /** Publishes `events` (any number; the adapter batches them as its bus requires). */
  publish(events: readonly BusEvent[]): Promise<PublishOutcome>;
}
