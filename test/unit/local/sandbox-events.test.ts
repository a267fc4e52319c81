import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleLog } from '../../../local/console-log';
import {
  InvalidEventCursorError,
  type LocalEventPage,
  localEventBus,
} from '../../../local/local-events';
import { type Sandbox, startSandbox } from '../../../local/sandbox';
import { readSandboxSettings } from '../../../local/sandbox-settings';
import { type LifecycleEvent, lifecycleEvent } from '../../../shared/events/lifecycle-event';
import { silentLog } from '../../../shared/log';
import { AUTHORIZER_APPID, COMPONENT_APPID, T0 } from '../../support/test-ids';

describe('the sandbox’s lifecycle events', () => {
  let sandbox: Sandbox;
  const lines: string[] = [];
  const events = async () => {
    const response = await fetch(`${sandbox.url}/local/events`);
    expect(response.status).toBe(200);
    return ((await response.json()) as LocalEventPage).events;
  };

  beforeAll(async () => {
    const sink = {
      out: (line: string) => lines.push(line),
      err: (line: string) => lines.push(line),
    };
    sandbox = await startSandbox(
      readSandboxSettings({ PORT: '0', REFRESH_INTERVAL_MS: '0' }),
      consoleLog({ sink })
    );
  });
  afterAll(() => sandbox.close());

  it('GET /local/events lists what was published, newest last, as a rule’s target receives it; each also printed', async () => {
    expect(await events()).toEqual([]);
    const simulator = sandbox.simulator!;
    await simulator.pushAuthorized(AUTHORIZER_APPID, { funcIds: [1, 15] });
    await simulator.pushUnauthorized(AUTHORIZER_APPID);

    const published = await events();
    expect(published.map((e) => [e['detail-type'], (e.detail as LifecycleEvent).reason])).toEqual([
      ['authorized', 'push'],
      ['revoked', 'push'],
    ]);
    expect(published[0]).toEqual({
      source: 'wechat-token-service',
      'detail-type': 'authorized',
      time: published[0]!.detail.time,
      detail: expect.objectContaining({
        type: 'authorized',
        authorizerAppId: AUTHORIZER_APPID,
        status: 'active',
        permissionSetIds: [1, 15],
      }),
    });
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `INFO {2}lifecycle event published kind=authorized authorizerAppId=${AUTHORIZER_APPID} reason=push permissions=1,15$`
        )
      )
    );
    expect(lines.filter((line) => line.includes('lifecycle event published'))).toHaveLength(2);
  });
});

/** The lifecycle event of an authorization at `at`, as the service publishes it. */
const authorizedAt = (at: number, reason: 'redirect' | 'push') =>
  lifecycleEvent(COMPONENT_APPID, {
    type: 'authorized',
    authorizerAppId: AUTHORIZER_APPID,
    status: 'active',
    permissionSetIds: [],
    reason,
    at,
  });

describe('localEventBus', () => {
  it('keeps the newest events only', async () => {
    const bus = localEventBus(silentLog, 2);
    const event = (i: number) => authorizedAt(T0 + i, 'redirect');
    expect(await bus.publish([event(1), event(2), event(3)])).toEqual({ failed: [] });
    expect(bus.published.map((e) => e.detail.id)).toEqual([event(2).id, event(3).id]);
  });

  it('pages by cursor: what was published after it, even when older events were dropped', async () => {
    const bus = localEventBus(silentLog, 2);
    const event = (i: number) => authorizedAt(T0 + i, 'push');
    const ids = (page: LocalEventPage) => page.events.map((e) => e.detail.id);

    expect(bus.page()).toEqual({ events: [], cursor: '0' });
    await bus.publish([event(1)]);
    const first = bus.page('0');
    await bus.publish([event(2), event(3)]);

    expect(ids(first)).toEqual([event(1).id]);
    expect(ids(bus.page(first.cursor))).toEqual([event(2).id, event(3).id]);
    expect(ids(bus.page('0'))).toEqual([event(2).id, event(3).id]);
    expect(bus.page('3')).toEqual({ events: [], cursor: '3' });
    expect(ids(bus.page())).toEqual([event(2).id, event(3).id]);
    for (const cursor of ['4', '-1', 'abc', '01', '']) {
      expect(() => bus.page(cursor), cursor).toThrow(InvalidEventCursorError);
    }
  });
});
