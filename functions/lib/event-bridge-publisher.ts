import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LIFECYCLE_EVENT_SOURCE } from '../../shared/events/lifecycle-event';
import {
  type BusEvent,
  busEntry,
  type EventPublisher,
  type PublishOutcome,
} from '../../shared/events/publisher';
import { EVENT_PUBLISH_TIMEOUT_MS } from '../../shared/policy';

/** PutEvents takes at most 10 entries per call. */
const PUT_EVENTS_MAX_ENTRIES = 10;
/** Attempts per publish, each cut to `EVENT_PUBLISH_TIMEOUT_MS` (the flush retries what still fails). */
const PUBLISH_ATTEMPTS = 2;

export interface EventBridgePublisherOptions {
  /** The bus's name or ARN (`EVENT_BUS_NAME`). */
  busName: string;
  /** For tests: the client to use instead of one built on first use. */
  client?: EventBridgeClient;
}

/** One PutEvents entry: `source`, the event's `detail-type` (`busEntry`), its time, the event as `detail`. */
export function putEventsEntry(busName: string, event: BusEvent) {
  const { detailType, time } = busEntry(event);
  return {
    EventBusName: busName,
    Source: LIFECYCLE_EVENT_SOURCE,
    DetailType: detailType,
    Time: new Date(time),
    Detail: JSON.stringify(event),
  };
}

/**
 * Publishes bus events (lifecycle events, authorized accounts' messages) to the stack's EventBridge bus with PutEvents, 10 entries a call. The SDK is
 * imported and the client built on first use (most invocations publish nothing), the only
 * `EventBridgeClient` of the service. A call that fails, or an entry the bus refuses, is reported as failed
 * (never thrown): the outbox keeps it for the next scheduled run.
 *
 * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
export function eventBridgePublisher(options: EventBridgePublisherOptions): EventPublisher {
  let client = options.client;
  const send = async (entries: ReturnType<typeof putEventsEntry>[]) => {
    const sdk = await import('@aws-sdk/client-eventbridge');
    client ??= new sdk.EventBridgeClient({
      maxAttempts: PUBLISH_ATTEMPTS,
      requestHandler: {
        requestTimeout: EVENT_PUBLISH_TIMEOUT_MS,
        connectionTimeout: EVENT_PUBLISH_TIMEOUT_MS,
        throwOnRequestTimeout: true,
      },
    });
    return client.send(new sdk.PutEventsCommand({ Entries: entries }));
  };
  return {
    async publish(events): Promise<PublishOutcome> {
      const failed: PublishOutcome['failed'] = [];
      for (let i = 0; i < events.length; i += PUT_EVENTS_MAX_ENTRIES) {
        const batch = events.slice(i, i + PUT_EVENTS_MAX_ENTRIES);
        try {
          const answer = await send(batch.map((event) => putEventsEntry(options.busName, event)));
          // Entries answer in request order; a refused one carries an ErrorCode instead of an EventId.
          for (const [j, event] of batch.entries()) {
            const entry = answer.Entries?.[j];
            if (entry?.EventId) continue;
            failed.push({ id: event.id, error: entry?.ErrorCode ?? 'NoEventId' });
          }
        } catch (error) {
          const name = (error as Error | undefined)?.name ?? 'Error';
          for (const event of batch) failed.push({ id: event.id, error: name });
        }
      }
      return { failed };
    },
  };
}
