import type { LifecycleEvent } from '../../shared/events/lifecycle-event';
import type { EventPublisher } from '../../shared/events/publisher';

export type RecordingPublisher = EventPublisher & {
  /** Every event the bus accepted, in order (a republished one appears again). */
  published: LifecycleEvent[];
  /** Publish attempts, accepted or not. */
  attempts: number;
  /** The next `calls` publish calls refuse every event they carry. */
  failNext(calls?: number): void;
  /** `type authorizerAppId reason` of each accepted event, for readable assertions. */
  summary(): string[];
};

/** An event bus that keeps what it accepts and refuses on request, as EventBridge may. */
export function recordingPublisher(): RecordingPublisher {
  let failures = 0;
  const publisher: RecordingPublisher = {
    published: [],
    attempts: 0,
    failNext(calls = 1) {
      failures += calls;
    },
    summary: () => publisher.published.map((e) => `${e.type} ${e.authorizerAppId} ${e.reason}`),
    async publish(events) {
      publisher.attempts += 1;
      if (failures > 0) {
        failures -= 1;
        return { failed: events.map((e) => ({ id: e.id, error: 'InternalFailure' })) };
      }
      publisher.published.push(...structuredClone(events));
      return { failed: [] };
    },
  };
  return publisher;
}
