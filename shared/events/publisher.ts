import type { LifecycleEvent } from './lifecycle-event';

/** What a publish attempt left undelivered. */
export interface PublishOutcome {
  /** Events the bus did not accept, by id, with the bus's error (e.g. `ThrottlingException`). */
  failed: { id: string; error: string }[];
}

/**
 * Where lifecycle events go: the stack's EventBridge bus in AWS (`functions/lib/event-bridge-publisher.ts`),
 * an in-process list in the sandbox (`local/local-events.ts`). Delivery failures are reported in the outcome,
 * not thrown: the outbox (`outbox.ts`) keeps what failed for the next scheduled run.
 */
export interface EventPublisher {
  /** Publishes `events` (any number; the adapter batches them as its bus requires). */
  publish(events: readonly LifecycleEvent[]): Promise<PublishOutcome>;
}
