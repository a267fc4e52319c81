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

/** The sandbox's stand-in for the EventBridge bus; `published` is oldest first. */
export interface LocalEventBus extends EventPublisher {
  readonly published: readonly LocalEventEnvelope[];
}

/** The sandbox keeps this many events, dropping the oldest: a week-long run stays small. */
export const LOCAL_EVENTS_KEPT = 1_000;

/**
 * The sandbox's event bus: accepts every event, writes one console line for each lifecycle event
 * (`lifecycle event published kind=authorized authorizerAppId=wx… reason=redirect permissions=1,2`) or
 * message (`wechat message published detailType=wechat.event authorizerAppId=wx… msgType=event
 * event=subscribe`), and keeps it for `GET /local/events`.
 */
export function localEventBus(log: Log, kept = LOCAL_EVENTS_KEPT): LocalEventBus {
  const published: LocalEventEnvelope[] = [];
  return {
    published,
    async publish(events) {
      for (const event of events) {
        const { detailType, time } = busEntry(event);
        published.push({
          source: LIFECYCLE_EVENT_SOURCE,
          'detail-type': detailType,
          time,
          detail: event,
        });
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
      }
      published.splice(0, Math.max(0, published.length - kept));
      return { failed: [] };
    },
  };
}
