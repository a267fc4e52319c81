import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo';
import type { LifecycleEvent } from '../../shared/events/lifecycle-event';
import { pendingEventOf } from '../../shared/events/outbox';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import { type RecordingPublisher, recordingPublisher } from '../support/recording-publisher';
import { AUTHORIZER_APPID, authorizerAppId, HOUR, MINUTE } from '../support/test-ids';

let dynamo: LocalDynamo;
let h: Harness;
let bus: RecordingPublisher;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
const start = async () => {
  bus = recordingPublisher();
  h = await startHarness({ dynamo, events: bus });
};
afterEach(async () => {
  await h.close();
});

const reconcile = () => h.post('/local/refresh', { job: 'reconcile' });
/** Moves past the authorizers' planned renewal, with a fresh ticket for the component token. */
const renewalDue = async () => {
  h.clock.advance(HOUR + 50 * MINUTE);
  await h.simulator.pushTicket();
};

/** Every credential WeChat handed out or pushed so far: tickets, component and authorizer tokens, codes. */
function credentials(): string[] {
  const state = h.simulator.state;
  return [
    ...state.tickets.keys(),
    ...state.componentTokens.keys(),
    ...state.authCodes.keys(),
    ...state.preAuthCodes.keys(),
    ...[...state.authorizers.values()].flatMap((a) => [
      a.refreshToken,
      ...(a.previousRefreshToken ? [a.previousRefreshToken.value] : []),
      ...a.accessTokens.keys(),
    ]),
  ];
}

const SCHEMA_FIELDS = [
  'authorizerAppId',
  'componentAppId',
  'id',
  'permissionSetIds',
  'reason',
  'schemaVersion',
  'status',
  'time',
  'type',
];

function expectNoCredentials(events: LifecycleEvent[]) {
  const text = JSON.stringify(events);
  const secrets = credentials();
  expect(secrets.length).toBeGreaterThan(5);
  for (const secret of secrets) expect(text).not.toContain(secret);
  for (const event of events) expect(Object.keys(event).sort()).toEqual(SCHEMA_FIELDS);
}

describe('lifecycle events from the real flows (dynalite, strict WeChat simulator)', () => {
  it('pushes and redirects: authorized once, permissions_changed, nothing for a repeat, revoked once however often WeChat pushes it', async () => {
    await start();
    const M = AUTHORIZER_APPID;
    await h.simulator.pushTicket();
    const { authCode } = await h.simulator.pushAuthorized(M, { funcIds: [1, 2] });
    const redirect = await fetch(
      `${h.service.url}/authorize/callback?auth_code=${encodeURIComponent(authCode)}&expires_in=600`
    );
    expect(redirect.status).toBe(200);
    expect(bus.summary()).toEqual([`authorized ${M} push`]);
    expect(bus.published[0]).toMatchObject({
      componentAppId: h.deps.componentAppId,
      status: 'active',
      permissionSetIds: [1, 2],
    });

    h.clock.advance(MINUTE);
    await h.simulator.pushAuthorized(M, { infoType: 'updateauthorized', funcIds: [1, 2, 3] });
    h.clock.advance(MINUTE);
    await h.simulator.pushAuthorized(M, { funcIds: [3, 2, 1] });
    expect(bus.summary().slice(1)).toEqual([`permissions_changed ${M} push`]);
    expect(bus.published[1]!.permissionSetIds).toEqual([1, 2, 3]);

    h.clock.advance(MINUTE);
    const createTime = Math.floor(h.clock.now / 1000);
    const unauthorized = () =>
      h.simulator.pushEvent(
        'unauthorized',
        { AuthorizerAppid: M, CreateTime: createTime },
        { authorizerAppId: M }
      );
    await h.simulator.revoke(M, { push: false });
    const answers = await Promise.all([unauthorized(), unauthorized()]);
    expect(answers.map((a) => a.body)).toEqual(['success', 'success']);
    await unauthorized();
    expect(bus.summary().slice(2)).toEqual([`revoked ${M} push`]);
    expect(bus.published[2]).toMatchObject({ status: 'revoked', permissionSetIds: [1, 2, 3] });
    expect(new Set(bus.published.map((e) => e.id)).size).toBe(bus.published.length);
    expectNoCredentials(bus.published);
  });

  it('the sweep and the reconciliation: needs_reauthorization, recovered, revoked, reactivated and imported, each once', async () => {
    await start();
    const [lost, rotated, gone, reauthorized, imported] = [
      authorizerAppId(1),
      authorizerAppId(2),
      authorizerAppId(3),
      authorizerAppId(1),
      authorizerAppId(4),
    ];
    await authorizeMerchant(h, lost);
    h.simulator.forgetAuthorizer(lost);
    h.simulator.failNext('api_authorizer_token', { errcode: 61023 });
    await renewalDue();
    await h.refresh();
    expect(bus.summary()).toEqual([
      `authorized ${lost} push`,
      `needs_reauthorization ${lost} refresh_token_rejected_not_listed`,
    ]);

    await authorizeMerchant(h, rotated);
    await authorizeMerchant(h, gone);
    h.simulator.rotateRefreshToken(rotated);
    h.simulator.forgetAuthorizer(gone);
    await renewalDue();
    await h.refresh();
    expect(bus.summary().slice(2).sort()).toEqual(
      [
        `authorized ${rotated} push`,
        `authorized ${gone} push`,
        `recovered ${rotated} refresh_token_found_in_list`,
        `revoked ${gone} revocation_confirmed_by_list`,
      ].sort()
    );

    h.simulator.authorize(reauthorized);
    h.simulator.authorize(imported);
    expect((await reconcile()).status).toBe(200);
    expect(bus.summary().slice(6).sort()).toEqual(
      [`reactivated ${reauthorized} reconciliation`, `authorized ${imported} reconciliation`].sort()
    );
    expect(bus.published.find((e) => e.type === 'reactivated')).toMatchObject({
      status: 'active',
      permissionSetIds: h.simulator.state.authorizers.get(reauthorized)?.funcIds,
    });

    // Nothing changes any more: renewals, another reconciliation and another sweep publish nothing.
    h.clock.advance(10 * MINUTE);
    await h.simulator.pushTicket();
    await h.refresh();
    await reconcile();
    await h.refresh();
    expect(bus.published).toHaveLength(8);
    expect(new Set(bus.published.map((e) => e.id)).size).toBe(8);
    expect(
      await h.store.listDueOutboxEvents(h.deps.componentAppId, h.clock.now + HOUR, 100)
    ).toEqual([]);
    expectNoCredentials(bus.published);
  });

  it('an event the bus refused is published by the next scheduled run, once', async () => {
    await start();
    const M = AUTHORIZER_APPID;
    bus.failNext();
    await authorizeMerchant(h, M);
    expect(bus.published).toEqual([]);
    expect(bus.attempts).toBe(1);
    expect(await h.store.listDueOutboxEvents(h.deps.componentAppId, h.clock.now, 10)).toEqual([
      expect.objectContaining({ type: 'authorized', attempts: 1, lastError: 'InternalFailure' }),
    ]);

    await h.refresh();
    expect(bus.summary()).toEqual([`authorized ${M} push`]);
    await h.refresh();
    h.clock.advance(HOUR);
    await h.refresh();
    expect(bus.summary()).toEqual([`authorized ${M} push`]);
    expect(await h.store.listDueOutboxEvents(h.deps.componentAppId, h.clock.now, 10)).toEqual([]);
  });

  it('a revocation whose handler stopped after the state change: WeChat’s retry of the push publishes its event, once', async () => {
    await start();
    const M = AUTHORIZER_APPID;
    await authorizeMerchant(h, M);
    const at = Math.floor(h.clock.now / 1000) * 1000;
    // The first delivery's handler wrote the revocation, with its event, and died before the outbox.
    const revoked = {
      type: 'revoked',
      authorizerAppId: M,
      status: 'revoked',
      permissionSetIds: [],
      reason: 'push',
      at,
    } as const;
    await h.store.endAuthorization(
      h.deps.componentAppId,
      M,
      'revoked',
      { eventTime: at, event: pendingEventOf(h.deps, revoked) },
      at
    );
    expect(bus.summary()).toEqual([`authorized ${M} push`]);

    const retry = await h.simulator.pushUnauthorized(M);
    expect(retry.body).toBe('success');
    expect(bus.summary()).toEqual([`authorized ${M} push`, `revoked ${M} push`]);
    await h.simulator.pushUnauthorized(M);
    expect(bus.summary()).toEqual([`authorized ${M} push`, `revoked ${M} push`]);
    expect((await h.store.getAuthorizer(h.deps.componentAppId, M))?.pendingEvents).toEqual([]);
  });

  it('an event whose outbox write was refused goes out with the sweep that renews its authorizer', async () => {
    await start();
    const M = AUTHORIZER_APPID;
    await authorizeMerchant(h, M);
    const stored = await h.store.getAuthorizer(h.deps.componentAppId, M);
    const at = h.clock.now;
    // A 61023 recovery whose writer could not reach the outbox: the event stays on the item.
    await h.store.replaceRefreshToken(
      h.deps.componentAppId,
      M,
      stored?.refreshToken,
      stored?.refreshToken as string,
      at,
      {
        event: pendingEventOf(h.deps, {
          type: 'recovered',
          authorizerAppId: M,
          status: 'active',
          permissionSetIds: stored?.funcInfo ?? [],
          reason: 'refresh_token_found_in_list',
          at,
        }),
      }
    );
    await h.refresh();
    expect(bus.summary()).toEqual([`authorized ${M} push`]);
    await renewalDue();
    await h.refresh();
    expect(bus.summary()).toEqual([
      `authorized ${M} push`,
      `recovered ${M} refresh_token_found_in_list`,
    ]);
    expect((await h.store.getAuthorizer(h.deps.componentAppId, M))?.pendingEvents).toEqual([]);
  });

  it('an event its writer left on the item is published by the scheduled reconciliation, once', async () => {
    await start();
    const M = AUTHORIZER_APPID;
    await authorizeMerchant(h, M);
    h.simulator.forgetAuthorizer(M);
    const at = h.clock.now;
    await h.store.endAuthorization(
      h.deps.componentAppId,
      M,
      'revoked',
      {
        eventTime: at,
        event: pendingEventOf(h.deps, {
          type: 'revoked',
          authorizerAppId: M,
          status: 'revoked',
          permissionSetIds: [],
          reason: 'revocation_confirmed_by_list',
          at,
        }),
      },
      at
    );
    await reconcile();
    await reconcile();
    expect(bus.summary()).toEqual([
      `authorized ${M} push`,
      `revoked ${M} revocation_confirmed_by_list`,
    ]);
  });
});
