import type { EpochMs } from '../shared/clock';
import { InvalidEventCursorError, type LocalEventBus } from './local-events';
import { json, parseJson, type Routes } from './local-service';
import type { WechatSimulator } from './simulator';
import { InvalidAdvanceError, parseAdvanceRequest } from './time-travel';

/** What the sandbox's own routes act on. */
export interface SandboxControls {
  /** The sandbox's time. */
  now(): EpochMs;
  /**
   * Moves the sandbox's clocks forward by `ms` and lets what was due happen (ticket push, scheduled
   * refresh); resolves with the new time.
   *
   * @throws InvalidAdvanceError, changing nothing, for a value the clock cannot move by.
   */
  advanceClock(ms: number): Promise<EpochMs>;
  /** The built-in simulator, when there is one. */
  simulator?: WechatSimulator;
  /** The in-process event bus the service publishes lifecycle events to. */
  events?: LocalEventBus;
}

const clockAnswer = (now: number) => json(200, { now: new Date(now).toISOString() });

/**
 * The sandbox's local-only routes besides the service's:
 *
 * - `GET /local/clock` → `{"now":"<ISO 8601>"}`, the sandbox's time;
 * - `POST /local/clock` with `{"advanceMs": N}` (an integer ≥ 0) moves it forward (time travel: a 2-hour
 *   token renews in seconds) and answers the same; anything else is a 400 with a JSON error, and nothing
 *   moves;
 * - `GET /local/wechat-calls` (built-in simulator only) → `{"calls":{"<api>":<count>,…}}`, the calls WeChat
 *   has received since start: how one sees that concurrent callers made one WeChat call.
 * - `POST /local/messages` with `{"count": N}` (1–100, default 5; built-in simulator only): the simulator
 *   sends N fans' messages and events to the authorized accounts' message URL, as WeChat would; answers
 *   what each got (`{"sent":[{"authorizerAppId","msgType","event","status","answer"}…]}`);
 * - `GET /local/events` → `{"events":[…],"cursor":"…"}`: the lifecycle events and messages published since
 *   start (the last `LOCAL_EVENTS_KEPT`), newest last, each as an EventBridge rule's target receives it
 *   (`{"source":"wechat-token-service","detail-type":"authorized","time":…,"detail":{…}}`), and an opaque
 *   cursor; `GET /local/events?cursor=<that cursor>` answers only the events published since, and the next
 *   cursor, so a consumer polls what is new (a cursor never answered is a 400 with a JSON error).
 *
 * @see ../docs/architecture.md §5
 */
export function sandboxRoutes(controls: SandboxControls): Routes {
  const routes: Routes = {
    'GET /local/clock': async () => clockAnswer(controls.now()),
    'POST /local/clock': async (event) => {
      try {
        const ms = parseAdvanceRequest(parseJson(event.body));
        return clockAnswer(await controls.advanceClock(ms));
      } catch (error) {
        if (!(error instanceof InvalidAdvanceError)) throw error;
        return json(400, { error: { code: 'invalid_request', message: error.message } });
      }
    },
  };
  const events = controls.events;
  if (events) {
    routes['GET /local/events'] = async (event) => {
      try {
        return json(200, events.page(event.queryStringParameters?.cursor));
      } catch (error) {
        if (!(error instanceof InvalidEventCursorError)) throw error;
        return json(400, { error: { code: 'invalid_request', message: error.message } });
      }
    };
  }
  const simulator = controls.simulator;
  if (simulator) {
    routes['GET /local/wechat-calls'] = async () => {
      const calls: Record<string, number> = {};
      for (const call of simulator.calls) calls[call.api] = (calls[call.api] ?? 0) + 1;
      return json(200, { calls });
    };
    routes['POST /local/messages'] = async (event) => {
      const body = parseJson(event.body ?? '{}') as { count?: unknown } | undefined;
      const count = body?.count ?? 5;
      if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > 100) {
        return json(400, {
          error: { code: 'invalid_request', message: 'count must be an integer from 1 to 100' },
        });
      }
      const records = await simulator.sendMessages(count as number);
      return json(200, {
        sent: records.map((r) => ({
          authorizerAppId: r.authorizerAppId,
          msgType: r.msgType,
          ...(r.event ? { event: r.event } : {}),
          status: r.status,
          answer: r.answer,
        })),
      });
    };
  }
  return routes;
}
