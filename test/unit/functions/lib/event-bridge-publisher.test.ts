import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDeps } from '../../../../functions/lib/deps';
import { loadConfig } from '../../../../shared/config';
import { lifecycleEvent } from '../../../../shared/events/lifecycle-event';
import { recordingLog, recordingMetrics } from '../../../support/recorders';
import { authorizerAppId, COMPONENT_APPID, SECOND, T0 } from '../../../support/test-ids';

const env = {
  TOKEN_TABLE_NAME: 'tokens',
  COMPONENT_APPID,
  COMPONENT_SECRET_ID: 'component',
};
const deps = (extra: Record<string, string> = {}) =>
  createDeps(loadConfig({ ...env, ...extra }), {
    log: recordingLog(),
    metrics: recordingMetrics(),
  });

const event = (i: number) =>
  lifecycleEvent(COMPONENT_APPID, {
    type: 'authorized',
    authorizerAppId: authorizerAppId(i),
    status: 'active',
    permissionSetIds: [1, 2],
    reason: 'redirect',
    at: T0 + i * SECOND,
  });

describe('the EventBridge publisher of EVENT_BUS_NAME', () => {
  const bus = mockClient(EventBridgeClient);
  beforeEach(() => bus.reset());
  afterAll(() => bus.restore());

  it('is wired only when EVENT_BUS_NAME is set', () => {
    expect(deps().events).toBeUndefined();
    expect(deps({ EVENT_BUS_NAME: 'lifecycle' }).events).toBeDefined();
  });

  it('puts each event on the bus: source, its name as detail-type, its time, the event as detail', async () => {
    bus.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'x' }] });
    const one = event(1);
    expect(await deps({ EVENT_BUS_NAME: 'lifecycle' }).events!.publish([one])).toEqual({
      failed: [],
    });
    expect(bus).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        {
          EventBusName: 'lifecycle',
          Source: 'wechat-token-service',
          DetailType: 'authorized',
          Time: new Date('2027-01-15T08:00:01.000Z'),
          Detail: JSON.stringify(one),
        },
      ],
    });
  });

  it('sends at most 10 entries a call, and reports the entries the bus refused by id', async () => {
    const events = Array.from({ length: 23 }, (_, i) => event(i));
    bus.on(PutEventsCommand).callsFake((input: { Entries: { Detail: string }[] }) => ({
      FailedEntryCount: 1,
      Entries: input.Entries.map((entry, i) =>
        i === 1
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }
          : { EventId: `id-${JSON.parse(entry.Detail).id}` }
      ),
    }));
    const outcome = await deps({ EVENT_BUS_NAME: 'lifecycle' }).events!.publish(events);
    expect(
      bus.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.length)
    ).toEqual([10, 10, 3]);
    expect(outcome.failed).toEqual(
      [1, 11, 21].map((i) => ({ id: events[i]!.id, error: 'InternalFailure' }))
    );
  });

  it('reports every event of a call that failed as failed, by the error name, without throwing', async () => {
    const error = Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    bus.on(PutEventsCommand).rejects(error);
    const events = [event(1), event(2)];
    expect(await deps({ EVENT_BUS_NAME: 'lifecycle' }).events!.publish(events)).toEqual({
      failed: events.map((e) => ({ id: e.id, error: 'AccessDeniedException' })),
    });
  });
});

describe('the EventBridge publisher against a bus that never answers', () => {
  const server = createServer(() => {});
  beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
  afterEach(() => vi.unstubAllEnvs());
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('gives up after its attempts and reports the events failed, rather than hanging the handler', async () => {
    vi.stubEnv(
      'AWS_ENDPOINT_URL_EVENTBRIDGE',
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    );
    vi.stubEnv('AWS_REGION', 'ap-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const events = [event(1)];
    expect(await deps({ EVENT_BUS_NAME: 'lifecycle' }).events!.publish(events)).toEqual({
      failed: [{ id: events[0]!.id, error: 'TimeoutError' }],
    });
  });
});
