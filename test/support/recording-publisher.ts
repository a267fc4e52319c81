import type { LifecycleEvent } from '../../shared/events/lifecycle-event';
import { type EventPublisher, isLifecycleEvent } from '../../shared/events/publisher';
import type { WechatMessageEvent } from '../../shared/events/wechat-message-event';

export type RecordingPublisher = EventPublisher & {
  /** Every lifecycle event the bus accepted, in order (a republished one appears again). */
  published: LifecycleEvent[];
  /** Every message or event of an authorized account the bus accepted, in order. */
  messages: WechatMessageEvent[];
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
    messages: [],
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
      for (const event of structuredClone(events)) {
        if (isLifecycleEvent(event)) publisher.published.push(event);
        else publisher.messages.push(event);
      }
      return { failed: [] };
    },
  };
  return publisher;
}
