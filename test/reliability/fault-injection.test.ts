import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo';
import type { Fault } from '../../local/simulator';
import { MetricName } from '../../shared/log';
import { FORCED_REFRESH_MIN_INTERVAL_MS } from '../../shared/policy';
import { refreshComponentTokenIfDue } from '../../shared/serving/component-token';
import type { AuthorizerRecord, TokenStore } from '../../shared/store/token-store';
import {
  conditionFailed,
  type DocumentCommand,
  faultyDocument,
  throttled,
} from '../support/dynamo-faults';
import { type Harness, type HarnessOptions, startHarness } from '../support/harness';
import { scanTable, seedAuthorizer } from '../support/reliability-stack';
import { AUTHORIZER_APPID, COMPONENT_APPID, MINUTE } from '../support/test-ids';

const RETRY_AFTER_FAILURE = 4 * MINUTE;
const AUTHORIZER_PK = `AUTHORIZER#${COMPONENT_APPID}#${AUTHORIZER_APPID}`;
const TICKET_PK = `COMPONENT#${COMPONENT_APPID}#TICKET`;
const COMPONENT_PK = `COMPONENT#${COMPONENT_APPID}#TOKEN`;

let dynamo: LocalDynamo;
const open: Harness[] = [];
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});
afterAll(async () => {
  await dynamo.close();
});

/**
 * One merchant authorized at t0, then 106 minutes later: its token is due (refreshAt = expiry - 15 min) but
 * still valid for 14 minutes, the component token was just renewed from a fresh ticket, and the recorders
 * are empty.
 */
async function dueMerchant(options: HarnessOptions = {}) {
  const h = await startHarness({ dynamo, wechatTimeoutMs: 200, ...options });
  open.push(h);
  await h.simulator.pushTicket();
  await seedAuthorizer(h, AUTHORIZER_APPID);
  h.clock.advance(106 * MINUTE);
  await h.simulator.pushTicket();
  await refreshComponentTokenIfDue(h.deps);
  const before = (await h.store.getAuthorizer(
    COMPONENT_APPID,
    AUTHORIZER_APPID
  )) as AuthorizerRecord;
  h.simulator.resetCalls();
  h.log.entries.length = 0;
  h.metrics.counts.clear();
  return { h, before };
}

async function runRefresh(h: Harness) {
  const response = await h.post('/local/refresh', {});
  return {
    status: response.status,
    // biome-ignore lint/suspicious/noExplicitAny: the run summary or the error answer, read field by field
    body: (await response.json()) as Record<string, any>,
  };
}

const stored = (h: Harness) => h.store.getAuthorizer(COMPONENT_APPID, AUTHORIZER_APPID);
const wechatRefreshToken = (h: Harness) =>
  h.simulator.state.authorizers.get(AUTHORIZER_APPID)?.refreshToken;
const loggedWithCode = (h: Harness, code: string) =>
  h.log.entries.filter((e) => e.fields.code === code);

async function expectOldTokenServed(h: Harness, before: AuthorizerRecord) {
  const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });
  expect(answer.accessToken).toBe(before.accessToken);
  expect(h.simulator.tokenStatus(before.accessToken as string)).toBe('valid');
  const now = await stored(h);
  expect(now?.version).toBe(before.version);
  expect(now?.refreshToken).toBe(wechatRefreshToken(h));
}

async function expectNextRunRecovers(h: Harness, before: AuthorizerRecord, advanceMs: number) {
  h.simulator.clearFaults();
  h.simulator.setWhitelisted(true);
  h.clock.advance(advanceMs);
  const run = await runRefresh(h);
  expect(run.status).toBe(200);
  expect(run.body.authorizers).toMatchObject({ refreshed: 1, failed: {} });
  const after = (await stored(h)) as AuthorizerRecord;
  expect(after.version).toBe(before.version + 1);
  expect(after.accessToken).not.toBe(before.accessToken);
  expect(h.simulator.tokenStatus(after.accessToken as string)).toBe('valid');
  expect(after.refreshToken).toBe(wechatRefreshToken(h));
  expect((await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken).toBe(
    after.accessToken
  );
}

interface WechatFaultCase {
  name: string;
  inject: (h: Harness) => void;
  code: string;
  attempts: number;
  systemic?: boolean;
}

const failTwice = (fault: Fault) => (h: Harness) =>
  h.simulator.failNext('api_authorizer_token', fault, 2);

const wechatFaults: WechatFaultCase[] = [
  {
    name: 'WeChat times out on both attempts',
    inject: failTwice('timeout'),
    code: 'wechat_unavailable',
    attempts: 2,
  },
  {
    name: 'WeChat resets the connection twice',
    inject: failTwice('reset'),
    code: 'wechat_unavailable',
    attempts: 2,
  },
  {
    name: 'WeChat answers HTTP 500 twice',
    inject: failTwice('http500'),
    code: 'wechat_unavailable',
    attempts: 2,
  },
  {
    name: 'WeChat answers an HTML error page twice',
    inject: failTwice('html'),
    code: 'wechat_unavailable',
    attempts: 2,
  },
  {
    name: 'WeChat answers an empty body twice',
    inject: failTwice('empty'),
    code: 'wechat_unavailable',
    attempts: 2,
  },
  {
    name: 'WeChat answers -1 system busy twice',
    inject: failTwice({ errcode: -1 }),
    code: 'wechat_busy',
    attempts: 2,
  },
  {
    name: 'WeChat answers 45009 daily quota reached',
    inject: (h) => h.simulator.failNext('api_authorizer_token', { errcode: 45009 }),
    code: 'wechat_quota',
    attempts: 1,
  },
  {
    name: 'WeChat answers 61004 for our egress IP',
    inject: (h) => h.simulator.failNext('api_authorizer_token', { errcode: 61004 }),
    code: 'wechat_ip_not_whitelisted',
    attempts: 1,
    systemic: true,
  },
  {
    name: 'WeChat stops whitelisting our egress IP',
    inject: (h) => h.simulator.setWhitelisted(false),
    code: 'wechat_ip_not_whitelisted',
    attempts: 1,
    systemic: true,
  },
];

describe('WeChat faults during the scheduled refresh', () => {
  it.each(wechatFaults.map((c) => [c.name, c] as const))(
    'keeps serving the old token and every refresh token, reports once, and recovers when %s',
    async (_name, c) => {
      const { h, before } = await dueMerchant();
      c.inject(h);

      const run = await runRefresh(h);

      if (c.systemic) {
        expect(run.status).toBe(500);
        expect(run.body.error.message).toContain(`scheduled refresh stopped: ${c.code}`);
        expect(h.metrics.total(MetricName.WhitelistRejected)).toBe(1);
        expect(loggedWithCode(h, c.code)[0]?.fields.requestIp).toBe('203.0.113.7');
      } else {
        expect(run.status).toBe(200);
        expect(run.body.authorizers).toMatchObject({ refreshed: 0, failed: { [c.code]: 1 } });
      }
      expect(h.simulator.callCount('api_authorizer_token')).toBe(c.attempts);
      expect(h.metrics.total(MetricName.AuthorizerRefreshFailed, c.code)).toBe(1);
      expect(loggedWithCode(h, c.code)).toHaveLength(1);
      await expectOldTokenServed(h, before);
      await expectNextRunRecovers(h, before, RETRY_AFTER_FAILURE);
    }
  );

  it.each([
    ['a timeout', 'timeout'],
    ['a connection reset', 'reset'],
    ['an HTTP 500', 'http500'],
    ['a non-JSON answer', 'html'],
    ['-1 system busy', { errcode: -1 }],
  ] as [string, Fault][])(
    'absorbs a single %s with its one retry and reports nothing',
    async (_name, fault) => {
      const { h, before } = await dueMerchant();
      h.simulator.failNext('api_authorizer_token', fault);

      const run = await runRefresh(h);

      expect(run.body.authorizers).toMatchObject({ refreshed: 1, failed: {} });
      expect(h.simulator.callCount('api_authorizer_token')).toBe(2);
      expect(h.metrics.total(MetricName.AuthorizerRefreshFailed)).toBe(0);
      expect(h.log.entries.filter((e) => e.level === 'error')).toEqual([]);
      const after = (await stored(h)) as AuthorizerRecord;
      expect(after.version).toBe(before.version + 1);
      expect(h.simulator.tokenStatus(after.accessToken as string)).toBe('valid');
      expect(after.refreshToken).toBe(wechatRefreshToken(h));
    }
  );

  it('refreshes the component token once and retries when WeChat answers 40001 to the authorizer call', async () => {
    const { h, before } = await dueMerchant();
    h.clock.advance(FORCED_REFRESH_MIN_INTERVAL_MS);
    h.simulator.failNext('api_authorizer_token', { errcode: 40001 });

    const run = await runRefresh(h);

    expect(run.body.authorizers).toMatchObject({ refreshed: 1, failed: {} });
    expect(h.simulator.callCount('api_component_token')).toBe(1);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(2);
    expect(h.metrics.total(MetricName.AuthorizerRefreshFailed)).toBe(0);
    const after = (await stored(h)) as AuthorizerRecord;
    expect(after.version).toBe(before.version + 1);
    expect(after.refreshToken).toBe(wechatRefreshToken(h));
  });

  it.each([
    ['serves the still-valid old token', 10 * MINUTE, true],
    ['answers upstream_unavailable once the old token has expired', 15 * MINUTE, false],
  ])(
    'when an inline get-token refresh times out it %s, reports once, and refreshes on the next call',
    async (_name, advance, servesOld) => {
      const { h, before } = await dueMerchant();
      h.clock.advance(advance);
      h.simulator.failNext('api_authorizer_token', 'timeout', 2);

      const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });

      if (servesOld) expect(answer.accessToken).toBe(before.accessToken);
      else {
        expect(answer).toEqual({
          error: {
            code: 'upstream_unavailable',
            message: expect.stringContaining('retry shortly'),
          },
        });
      }
      expect(h.simulator.callCount('api_authorizer_token')).toBe(2);
      expect(h.metrics.total(MetricName.AuthorizerRefreshFailed, 'wechat_unavailable')).toBe(1);
      expect(loggedWithCode(h, 'wechat_unavailable')).toHaveLength(1);
      expect((await stored(h))?.refreshToken).toBe(wechatRefreshToken(h));
      const retried = await h.token({ authorizerAppId: AUTHORIZER_APPID });
      expect(retried.accessToken).not.toBe(before.accessToken);
      expect(h.simulator.tokenStatus(retried.accessToken as string)).toBe('valid');
      expect((await stored(h))?.version).toBe(before.version + 1);
    }
  );
});

describe('refresh-token loss', () => {
  it('heals a refresh token rotated on WeChat’s side (61023) through api_get_authorizer_list', async () => {
    const { h, before } = await dueMerchant();
    const rotated = h.simulator.rotateRefreshToken(AUTHORIZER_APPID);
    expect((await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken).toBe(
      before.accessToken
    );

    const run = await runRefresh(h);

    expect(run.body.authorizers).toMatchObject({ refreshed: 1, failed: {} });
    expect(h.simulator.callCount('api_get_authorizer_list')).toBe(1);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(2);
    expect(h.metrics.total(MetricName.RefreshTokenRecovered)).toBe(1);
    expect(h.metrics.total(MetricName.AuthorizerRefreshFailed)).toBe(0);
    expect(h.log.entries.filter((e) => e.message.includes('61023'))).toHaveLength(1);
    const after = (await stored(h)) as AuthorizerRecord;
    expect(after.refreshToken).toBe(rotated);
    expect(after.version).toBe(before.version + 1);
    expect(h.simulator.tokenStatus(after.accessToken as string)).toBe('valid');
  });

  it('marks an authorizer WeChat no longer lists as needs_reauthorization and reports it once', async () => {
    const { h } = await dueMerchant({ rules: { revokedRefreshErrcode: 61023 } });
    h.simulator.forgetAuthorizer(AUTHORIZER_APPID);

    const run = await runRefresh(h);

    expect(run.body.authorizers).toMatchObject({ failed: { needs_reauthorization: 1 } });
    expect(h.metrics.total(MetricName.NeedsReauthorization)).toBe(1);
    expect(loggedWithCode(h, 'needs_reauthorization')).toHaveLength(1);
    expect(await h.token({ authorizerAppId: AUTHORIZER_APPID })).toEqual({
      error: { code: 'needs_reauthorization', message: expect.stringContaining(AUTHORIZER_APPID) },
    });
  });
});

/** A store whose next saveAuthorizerToken dies like a killed Lambda: after WeChat answered, before any write. */
function crashingStore(onCrash: () => void = () => {}) {
  const state = { armed: false, crashedOwner: undefined as string | undefined };
  const wrap = (store: TokenStore): TokenStore =>
    new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'saveAuthorizerToken') {
          return async (...args: Parameters<TokenStore['saveAuthorizerToken']>) => {
            if (!state.armed) return target.saveAuthorizerToken(...args);
            state.armed = false;
            state.crashedOwner = args[2];
            onCrash();
            throw new Error('the Lambda was killed');
          };
        }
        if (property === 'release') {
          return async (...args: Parameters<TokenStore['release']>) => {
            if (args[1] === state.crashedOwner) return;
            return target.release(...args);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return { state, wrap };
}

describe('a crash between WeChat’s answer and our write', () => {
  it.each([
    ['WeChat kept the refresh token', false],
    ['WeChat rotated the refresh token in its answer', true],
  ])(
    'holds off other runs for the lease, keeps serving the old token, and recovers after 30 s when %s',
    async (_name, rotates) => {
      let h!: Harness;
      const crash = crashingStore(() => {
        if (rotates) h.simulator.rotateRefreshToken(AUTHORIZER_APPID);
      });
      const prepared = await dueMerchant({ wrapStore: crash.wrap });
      h = prepared.h;
      const { before } = prepared;
      crash.state.armed = true;

      const crashed = await runRefresh(h);

      expect(crashed.body.authorizers).toMatchObject({
        refreshed: 0,
        failed: { internal_error: 1 },
      });
      expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
      expect(h.metrics.total(MetricName.AuthorizerRefreshFailed, 'internal_error')).toBe(1);
      expect(loggedWithCode(h, 'internal_error')).toHaveLength(1);
      const blocked = await runRefresh(h);
      expect(blocked.body.authorizers).toMatchObject({ refreshed: 0, skipped: 1, failed: {} });
      expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
      const served = await h.token({ authorizerAppId: AUTHORIZER_APPID });
      expect(served.accessToken).toBe(before.accessToken);
      expect(h.simulator.tokenStatus(before.accessToken as string)).toBe('valid');

      h.clock.advance(31_000);
      const recovered = await runRefresh(h);

      expect(recovered.body.authorizers).toMatchObject({ refreshed: 1, failed: {} });
      expect(h.simulator.callCount('api_get_authorizer_list')).toBe(rotates ? 1 : 0);
      const after = (await stored(h)) as AuthorizerRecord;
      expect(after.version).toBe(before.version + 1);
      expect(after.refreshToken).toBe(wechatRefreshToken(h));
      expect(h.simulator.tokenStatus(after.accessToken as string)).toBe('valid');
      expect((await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken).toBe(
        after.accessToken
      );
    }
  );
});

interface DynamoFaultCase {
  name: string;
  command: DocumentCommand;
  when: (input: Record<string, unknown>) => boolean;
  error: () => Error;
  wechatCalls: number;
  authorizers: Record<string, unknown>;
  reported?: string;
  warned?: string;
}

const isAuthorizer = (input: Record<string, unknown>) =>
  (input.Key as { pk?: string } | undefined)?.pk === AUTHORIZER_PK;
const isClaim = (input: Record<string, unknown>) =>
  isAuthorizer(input) && String(input.ConditionExpression).includes('#leaseUntil < :now');
const isSave = (input: Record<string, unknown>) =>
  isAuthorizer(input) && input.ReturnValues === 'ALL_NEW';

const dynamoFaults: DynamoFaultCase[] = [
  {
    name: 'DynamoDB throttles the lease claim',
    command: 'Update',
    when: isClaim,
    error: throttled,
    wechatCalls: 0,
    authorizers: { refreshed: 0, failed: { store_unavailable: 1 } },
    reported: 'store_unavailable',
  },
  {
    name: 'DynamoDB throttles the save after WeChat answered',
    command: 'Update',
    when: isSave,
    error: throttled,
    wechatCalls: 1,
    authorizers: { refreshed: 0, failed: { store_unavailable: 1 } },
    reported: 'store_unavailable',
  },
  {
    name: 'another refresher wins the lease claim (ConditionalCheckFailed)',
    command: 'Update',
    when: isClaim,
    error: conditionFailed,
    wechatCalls: 0,
    authorizers: { refreshed: 0, skipped: 1, failed: {} },
  },
];

describe('DynamoDB faults (aws-sdk-client-mock in front of dynalite)', () => {
  it.each(dynamoFaults.map((c) => [c.name, c] as const))(
    'keeps serving the old token and every refresh token, reports once, and recovers when %s',
    async (_name, c) => {
      let faults!: ReturnType<typeof faultyDocument>;
      const { h, before } = await dueMerchant({
        document: (real) => {
          faults = faultyDocument(real);
          return faults.client;
        },
      });
      faults.failNext(c.command, c.when, c.error);

      const run = await runRefresh(h);

      expect(run.status).toBe(200);
      expect(faults.injected).toHaveLength(1);
      expect(run.body.authorizers).toMatchObject(c.authorizers);
      expect(h.simulator.callCount('api_authorizer_token')).toBe(c.wechatCalls);
      expect(h.metrics.total(MetricName.AuthorizerRefreshFailed)).toBe(c.reported ? 1 : 0);
      if (c.reported) {
        expect(h.metrics.total(MetricName.AuthorizerRefreshFailed, c.reported)).toBe(1);
        expect(loggedWithCode(h, c.reported)).toHaveLength(1);
      }
      if (c.warned) expect(h.log.entries.filter((e) => e.message === c.warned)).toHaveLength(1);
      await expectOldTokenServed(h, before);
      await expectNextRunRecovers(h, before, RETRY_AFTER_FAILURE);
    }
  );

  it('decides again when the save is refused (ConditionalCheckFailed): the newer token is saved, no second WeChat call', async () => {
    let faults!: ReturnType<typeof faultyDocument>;
    const { h, before } = await dueMerchant({
      document: (real) => {
        faults = faultyDocument(real);
        return faults.client;
      },
    });
    faults.failNext('Update', isSave, conditionFailed);

    const run = await runRefresh(h);

    expect(run.status).toBe(200);
    expect(faults.injected).toHaveLength(1);
    expect(run.body.authorizers).toMatchObject({ refreshed: 1, failed: {} });
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
    const after = (await stored(h)) as AuthorizerRecord;
    expect(after.version).toBe(before.version + 1);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(h.simulator.tokenStatus(after.accessToken as string)).toBe('valid');
    expect(after.leaseOwner).toBeUndefined();
  });

  it('answers upstream_unavailable when the get-token read is throttled, writes nothing, and serves the next call', async () => {
    let faults!: ReturnType<typeof faultyDocument>;
    const { h, before } = await dueMerchant({
      document: (real) => {
        faults = faultyDocument(real);
        return faults.client;
      },
    });
    const table = await scanTable(h);
    faults.mock.resetHistory();
    faults.failNext('Get', isAuthorizer, throttled);

    const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });

    expect(answer).toEqual({
      error: { code: 'upstream_unavailable', message: expect.any(String) },
    });
    expect(loggedWithCode(h, 'store_unavailable')).toHaveLength(1);
    expect(h.simulator.calls).toEqual([]);
    expect(await scanTable(h)).toEqual(table);
    expect(faults.mock).toHaveReceivedCommandTimes(GetCommand, 1);
    await expectOldTokenServed(h, before);
  });

  it('fails the whole run (so the alarm fires) when the due-index query is throttled, and calls nobody', async () => {
    let faults!: ReturnType<typeof faultyDocument>;
    const { h, before } = await dueMerchant({
      document: (real) => {
        faults = faultyDocument(real);
        return faults.client;
      },
    });
    faults.failNext('Query', () => true, throttled);

    const run = await runRefresh(h);

    expect(run).toEqual({
      status: 500,
      body: {
        error: { code: 'refresh_failed', message: expect.stringContaining('store_unavailable') },
      },
    });
    expect(loggedWithCode(h, 'store_unavailable')).toHaveLength(1);
    expect(h.simulator.calls).toEqual([]);
    await expectOldTokenServed(h, before);
    await expectNextRunRecovers(h, before, 0);
  });

  it('answers 503 to a ticket push whose write is throttled, keeps the old ticket, and stores the re-push', async () => {
    let faults!: ReturnType<typeof faultyDocument>;
    const { h } = await dueMerchant({
      document: (real) => {
        faults = faultyDocument(real);
        return faults.client;
      },
    });
    const oldTicket = await h.store.getTicket(COMPONENT_APPID);
    faults.failNext('Put', (input) => (input.Item as { pk?: string }).pk === TICKET_PK, throttled);
    h.clock.advance(MINUTE);

    const push = await h.simulator.pushTicket();

    expect(push).toMatchObject({ status: 503, body: expect.stringContaining('try again later') });
    expect(loggedWithCode(h, 'store_unavailable')).toHaveLength(1);
    expect(await h.store.getTicket(COMPONENT_APPID)).toEqual(oldTicket);
    const component = await h.token({ component: true });
    expect(h.simulator.tokenStatus(component.accessToken as string)).toBe('valid');
    const again = await h.simulator.pushTicket();
    expect(again.status).toBe(200);
    expect((await h.store.getTicket(COMPONENT_APPID))?.ticket).toBe(again.ticket);
  });

  it('keeps serving the component token when its save is throttled after WeChat answered', async () => {
    let faults!: ReturnType<typeof faultyDocument>;
    const { h } = await dueMerchant({
      document: (real) => {
        faults = faultyDocument(real);
        return faults.client;
      },
    });
    const oldComponent = await h.token({ component: true });
    h.clock.advance(106 * MINUTE);
    await h.simulator.pushTicket();
    faults.failNext(
      'Update',
      (input) =>
        (input.Key as { pk?: string }).pk === COMPONENT_PK && input.ReturnValues === 'ALL_NEW',
      throttled
    );

    const run = await runRefresh(h);

    expect(run.body.component).toBe('failed');
    expect(h.simulator.callCount('api_component_token')).toBe(1);
    expect(h.metrics.total(MetricName.ComponentRefreshFailed, 'store_unavailable')).toBe(1);
    expect(loggedWithCode(h, 'store_unavailable')).toHaveLength(1);
    const served = await h.token({ component: true });
    expect(served.accessToken).toBe(oldComponent.accessToken);
    expect(h.simulator.tokenStatus(served.accessToken as string)).toBe('valid');
  });
});
