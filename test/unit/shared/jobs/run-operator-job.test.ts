import { describe, expect, it } from 'vitest';
import {
  AuthorizerNotFoundError,
  AuthorizerRevokedError,
  InvalidRequestError,
  RefreshInProgressError,
  StoreUnavailableError,
  WechatApiError,
} from '../../../../shared/errors';
import { parseRefreshJob } from '../../../../shared/jobs/job-contract';
import {
  listAuthorizerViews,
  platformStatus,
  refreshAuthorizerByOperator,
  showAuthorizer,
} from '../../../../shared/jobs/run-operator-job';
import { OPERATOR_READ_BUDGET_MS, SUPERSEDED_OVERLAP_MS } from '../../../../shared/policy';
import { recordRun } from '../../../../shared/run-records';
import type { AuthorizerStatus } from '../../../../shared/store/token-store';
import {
  AUTHORIZER_APPID as A,
  authorizerAppId,
  COMPONENT_APPID as C,
  MINUTE,
  T0,
} from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

const iso = (ms: number) => new Date(ms).toISOString();

/** A fake `api_authorizer_token` that counts its calls. */
function authorizerTokenApi(answer?: () => never) {
  const calls: string[] = [];
  return {
    calls,
    methods: {
      async apiAuthorizerToken(_ct: string, appId: string, refreshToken: string) {
        calls.push(appId);
        if (answer) answer();
        return {
          authorizer_access_token: `renewed-${calls.length}`,
          expires_in: 7200,
          authorizer_refresh_token: `${refreshToken}-next`,
        };
      },
    },
  };
}

async function addAuthorizer(
  store: Awaited<ReturnType<typeof tokenContext>>['store'],
  authorizerAppId: string,
  status: AuthorizerStatus = 'active'
) {
  await store.saveAuthorization(
    {
      componentAppId: C,
      authorizerAppId,
      accessToken: `access-${authorizerAppId}`,
      expiresAt: T0 + 7_200_000,
      refreshToken: `refresh-${authorizerAppId}`,
      funcInfo: [1, 15],
      refreshAt: T0 + 6_300_000,
      authorizedAt: T0,
    },
    T0
  );
  if (status !== 'active') {
    await store.endAuthorization(C, authorizerAppId, status, { eventTime: T0 + 1 }, T0 + 1);
  }
}

describe('parseRefreshJob', () => {
  it('reads the schedules’ payloads as before: no job is the sweep', () => {
    expect(parseRefreshJob({})).toEqual({ job: 'sweep' });
    expect(parseRefreshJob(null)).toEqual({ job: 'sweep' });
    expect(parseRefreshJob(undefined)).toEqual({ job: 'sweep' });
    expect(parseRefreshJob({ job: 'reconcile' })).toEqual({ job: 'reconcile' });
  });

  it('reads every operator job with its options', () => {
    expect(parseRefreshJob({ job: 'status' })).toEqual({ job: 'status' });
    expect(parseRefreshJob({ job: 'status', cursor: 'abc' })).toEqual({
      job: 'status',
      cursor: 'abc',
    });
    expect(parseRefreshJob({ job: 'list', state: 'revoked', limit: 5, cursor: 'c' })).toEqual({
      job: 'list',
      state: 'revoked',
      limit: 5,
      cursor: 'c',
    });
    expect(parseRefreshJob({ job: 'show', authorizerAppId: A, reveal: true })).toEqual({
      job: 'show',
      authorizerAppId: A,
      reveal: true,
    });
    expect(parseRefreshJob({ job: 'refresh', authorizerAppId: A })).toEqual({
      job: 'refresh',
      authorizerAppId: A,
    });
  });

  it.each([
    ['a string payload', 'status', /JSON object/],
    ['an array', [], /JSON object/],
    ['an unknown job', { job: 'purge' }, /unknown job "purge"; one of reconcile, status/],
    ['a job that is not a string', { job: 7 }, /unknown job number/],
    [
      'an unknown field',
      { job: 'status', verbose: true },
      /unknown field\(s\) for status: "verbose"/,
    ],
    ['a field of another job', { job: 'reconcile', authorizerAppId: A }, /"authorizerAppId"/],
    ['an unknown state', { job: 'list', state: 'paused' }, /state must be one of active, revoked/],
    ['a limit of 0', { job: 'list', limit: 0 }, /limit must be an integer from 1 to 1000/],
    ['a limit above 1000', { job: 'list', limit: 1001 }, /limit must be an integer/],
    ['a fractional limit', { job: 'list', limit: 2.5 }, /limit must be an integer/],
    ['an empty cursor', { job: 'list', cursor: '' }, /cursor must be/],
    ['a cursor that is not a string', { job: 'status', cursor: 5 }, /cursor must be/],
    ['no appid', { job: 'show' }, /authorizerAppId must be an appid/],
    ['a malformed appid', { job: 'refresh', authorizerAppId: 'wx-1; drop' }, /must be an appid/],
    [
      'a reveal that is not a boolean',
      { job: 'show', authorizerAppId: A, reveal: 'yes' },
      /reveal/,
    ],
  ])('refuses %s', (_case, payload, message) => {
    expect(() => parseRefreshJob(payload)).toThrow(InvalidRequestError);
    expect(() => parseRefreshJob(payload)).toThrow(message);
  });
});

describe('status', () => {
  it('reports the ticket’s age, the component token’s promise, the counts and the last runs', async () => {
    const { ctx, store, clock } = await tokenContext();
    await store.putTicket({
      componentAppId: C,
      ticket: 'ticket-secret',
      createTime: T0 - 3 * MINUTE,
      receivedAt: T0 - 3 * MINUTE + 100,
    });
    await addAuthorizer(store, 'wxrevoked00000001', 'revoked');
    await addAuthorizer(store, 'wxlost00000000001', 'needs_reauthorization');
    await recordRun(ctx, 'refresh', { component: 'fresh', authorizers: { seen: 3 } });
    clock.now = T0 + 10 * MINUTE;

    const status = await platformStatus(ctx);

    expect(status).toEqual({
      now: iso(T0 + 10 * MINUTE),
      componentAppId: C,
      ticket: {
        createdAt: iso(T0 - 3 * MINUTE),
        receivedAt: iso(T0 - 3 * MINUTE + 100),
        ageSeconds: 13 * 60,
        usable: true,
      },
      componentToken: {
        lastRefreshAt: iso(T0),
        nextRefreshAt: iso(T0 + 6_300_000),
        expiresAt: iso(T0 + 6_300_000 + SUPERSEDED_OVERLAP_MS),
        secondsLeft: (6_300_000 + SUPERSEDED_OVERLAP_MS - 10 * MINUTE) / 1000,
        lastErrorCode: null,
      },
      authorizers: {
        total: 3,
        active: 1,
        revoked: 1,
        needs_reauthorization: 1,
        without_api_permission: 0,
        awaiting_authorization_code: 0,
      },
      lastRefresh: {
        finishedAt: iso(T0),
        summary: { component: 'fresh', authorizers: { seen: 3 } },
      },
      lastReconcile: null,
      lastQuota: null,
    });
    expect(JSON.stringify(status)).not.toMatch(/ticket-secret|component-token|access-1/);
  });

  it('counts a large table over several invocations, each within its read budget', async () => {
    const { ctx, store, clock } = await tokenContext();
    for (let i = 0; i < 2_499; i++) {
      await addAuthorizer(store, authorizerAppId(100 + i), i % 5 ? 'active' : 'revoked');
    }
    // Each page of the table takes 60 % of the budget: two pages per invocation.
    const list = store.listAuthorizers.bind(store);
    store.listAuthorizers = async (...args) => {
      clock.now += OPERATOR_READ_BUDGET_MS * 0.6;
      return list(...args);
    };

    const answers = [await platformStatus(ctx)];
    while (answers.at(-1)?.authorizers.cursor) {
      answers.push(await platformStatus(ctx, { cursor: answers.at(-1)?.authorizers.cursor }));
    }

    expect(answers.map((a) => a.authorizers.total)).toEqual([2_000, 500]);
    const sum = (state: 'active' | 'revoked') =>
      answers.reduce((total, a) => total + a.authorizers[state], 0);
    expect(sum('active')).toBe(1 + 1_999);
    expect(sum('revoked')).toBe(500);
  });

  it('says so when there is no ticket and no component token yet', async () => {
    const { ctx, store } = await tokenContext();
    store.componentTokens.clear();
    store.authorizers.clear();
    const status = await platformStatus(ctx);
    expect(status.ticket).toBeNull();
    expect(status.componentToken).toBeNull();
    expect(status.authorizers.total).toBe(0);
  });
});

describe('list', () => {
  it('pages through authorizers without their tokens, filtered by state', async () => {
    const { ctx, store } = await tokenContext();
    for (const id of [authorizerAppId(11), authorizerAppId(12), authorizerAppId(13)]) {
      await addAuthorizer(store, id, id.endsWith('2') ? 'revoked' : 'active');
    }
    const first = await listAuthorizerViews(ctx, { job: 'list', limit: 2 });
    expect(first.authorizers).toHaveLength(2);
    expect(first.cursor).toBeDefined();
    const second = await listAuthorizerViews(ctx, { job: 'list', limit: 2, cursor: first.cursor });
    const all = [...first.authorizers, ...second.authorizers];
    expect(second.cursor).toBeUndefined();
    expect(all.map((a) => a.authorizerAppId).sort()).toEqual([
      A,
      authorizerAppId(11),
      authorizerAppId(12),
      authorizerAppId(13),
    ]);
    expect(JSON.stringify(all)).not.toMatch(/access-|refresh-/);

    const revoked = await listAuthorizerViews(ctx, { job: 'list', state: 'revoked' });
    expect(revoked.authorizers).toEqual([
      {
        authorizerAppId: authorizerAppId(12),
        status: 'revoked',
        permissions: [1, 15],
        authorizedAt: iso(T0),
        lastRefreshAt: null,
        nextRefreshAt: null,
        expiresAt: null,
        lastErrorCode: null,
        endedAt: iso(T0 + 1),
        updatedAt: iso(T0 + 1),
      },
    ]);
  });
});

describe('show', () => {
  it('shows state, permissions and times, and no token without reveal', async () => {
    const { ctx, log } = await tokenContext();
    const shown = await showAuthorizer(ctx, { job: 'show', authorizerAppId: A });
    expect(shown).toEqual({
      now: iso(T0),
      authorizer: {
        authorizerAppId: A,
        status: 'active',
        permissions: [1],
        authorizedAt: iso(T0),
        lastRefreshAt: iso(T0),
        nextRefreshAt: iso(T0 + 105 * MINUTE),
        expiresAt: iso(T0 + 110 * MINUTE),
        lastErrorCode: null,
        endedAt: null,
        updatedAt: iso(T0),
      },
    });
    expect(JSON.stringify(shown)).not.toMatch(/access-1|refresh-1/);
    expect(log.entries).toEqual([]);
  });

  it('reveals the servable token only when asked, and logs the reveal without it', async () => {
    const { ctx, log } = await tokenContext();
    const shown = await showAuthorizer(ctx, { job: 'show', authorizerAppId: A, reveal: true });
    expect(shown.accessToken).toBe('access-1');
    expect(log.entries).toEqual([
      {
        level: 'warn',
        message: 'an operator revealed an authorizer access token',
        fields: { job: 'show', authorizerAppId: A },
      },
    ]);
    expect(log.text()).not.toContain('access-1');
  });

  it('reveals nothing for an authorizer that has no servable token', async () => {
    const { ctx, store, log } = await tokenContext();
    await addAuthorizer(store, 'wxrevoked00000001', 'revoked');
    const shown = await showAuthorizer(ctx, {
      job: 'show',
      authorizerAppId: 'wxrevoked00000001',
      reveal: true,
    });
    expect(shown.accessToken).toBeNull();
    expect(shown.authorizer.status).toBe('revoked');
    expect(log.entries).toEqual([]);
  });

  it('says when the authorizer is unknown', async () => {
    const { ctx } = await tokenContext();
    await expect(
      showAuthorizer(ctx, { job: 'show', authorizerAppId: 'wxunknown00000001' })
    ).rejects.toThrow(AuthorizerNotFoundError);
  });
});

describe('refresh', () => {
  it('renews a token that is not due with exactly one api_authorizer_token call', async () => {
    const api = authorizerTokenApi();
    const { ctx, store, clock, log } = await tokenContext(api.methods);
    clock.now = T0 + 10 * MINUTE;

    const answer = await refreshAuthorizerByOperator(ctx, A);

    expect(api.calls).toEqual([A]);
    expect(answer.outcome).toBe('refreshed');
    expect(answer.authorizer).toMatchObject({
      lastRefreshAt: iso(T0 + 10 * MINUTE),
      nextRefreshAt: iso(T0 + 10 * MINUTE + 105 * MINUTE),
    });
    const stored = await store.getAuthorizer(C, A);
    expect(stored).toMatchObject({ accessToken: 'renewed-1', refreshToken: 'refresh-1-next' });
    expect(JSON.stringify(answer)).not.toMatch(/renewed-1|refresh-1/);
    expect(log.entries).toContainEqual({
      level: 'info',
      message: 'an operator renewed an authorizer access token',
      fields: { job: 'refresh', authorizerAppId: A },
    });
  });

  it('refuses while another refresher holds the lease, without calling WeChat', async () => {
    const api = authorizerTokenApi();
    const { ctx, store } = await tokenContext(api.methods);
    const ref = { kind: 'authorizer', componentAppId: C, authorizerAppId: A } as const;
    await store.claim(ref, 1, { owner: 'sweep', until: T0 + 30_000 }, T0);
    await expect(refreshAuthorizerByOperator(ctx, A)).rejects.toThrow(RefreshInProgressError);
    expect(api.calls).toEqual([]);
  });

  it('refuses an authorizer without a token to renew, without calling WeChat', async () => {
    const api = authorizerTokenApi();
    const { ctx, store } = await tokenContext(api.methods);
    await addAuthorizer(store, 'wxrevoked00000001', 'revoked');
    await expect(refreshAuthorizerByOperator(ctx, 'wxrevoked00000001')).rejects.toThrow(
      AuthorizerRevokedError
    );
    await expect(refreshAuthorizerByOperator(ctx, 'wxunknown00000001')).rejects.toThrow(
      AuthorizerNotFoundError
    );
    expect(api.calls).toEqual([]);
  });

  it('reports a WeChat failure, records it on the authorizer and keeps the old token', async () => {
    const api = authorizerTokenApi(() => {
      throw new WechatApiError(
        'api_authorizer_token',
        45009,
        'reach max api daily quota limit',
        'quota'
      );
    });
    const { ctx, store, log } = await tokenContext(api.methods);
    await expect(refreshAuthorizerByOperator(ctx, A)).rejects.toThrow(WechatApiError);
    expect(api.calls).toEqual([A]);
    expect(await store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-1',
      lastErrorCode: 'wechat_quota',
    });
    expect(log.entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'WeChat operation failed',
        fields: expect.objectContaining({
          authorizerAppId: A,
          code: 'wechat_quota',
          errcode: 45009,
        }),
      })
    );
  });
});

describe('recordRun', () => {
  it('never fails the run when the record cannot be written', async () => {
    const { ctx, store, log } = await tokenContext();
    store.putRunRecord = async () => {
      throw new StoreUnavailableError('throttled');
    };
    await recordRun(ctx, 'reconcile', { listed: 1 });
    expect(log.entries).toEqual([
      {
        level: 'warn',
        message: 'could not record the run for the operators’ status',
        fields: { job: 'reconcile', code: 'store_unavailable' },
      },
    ]);
  });
});
