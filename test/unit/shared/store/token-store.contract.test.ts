import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../../../local/local-dynamo';
import { ConcurrentUpdateError } from '../../../../shared/errors';
import { DynamoDbTokenStore } from '../../../../shared/store/dynamodb-token-store';
import type { NewAuthorization, TokenStore } from '../../../../shared/store/token-store';
import { MemoryTokenStore } from '../../../support/memory-token-store';

const C = 'wxcomponent000001';
const A = 'wxauthorizer00001';
const NOW = 1_700_000_000_000;

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

const implementations: [string, () => Promise<TokenStore>][] = [
  ['MemoryTokenStore', async () => new MemoryTokenStore()],
  [
    'DynamoDbTokenStore on dynalite',
    async () => new DynamoDbTokenStore(dynamo.doc, await dynamo.createTable()),
  ],
];

function authorization(overrides: Partial<NewAuthorization> = {}): NewAuthorization {
  return {
    componentAppId: C,
    authorizerAppId: A,
    accessToken: 'access-1',
    expiresAt: NOW + 7_200_000,
    refreshToken: 'refresh-1',
    funcInfo: [1, 2],
    refreshAt: NOW + 6_300_000,
    authorizedAt: NOW,
    ...overrides,
  };
}

describe.each(implementations)('TokenStore contract: %s', (_name, makeStore) => {
  let store: TokenStore;
  beforeEach(async () => {
    store = await makeStore();
  });

  describe('tickets', () => {
    it('keeps the ticket with the newest CreateTime', async () => {
      const base = { componentAppId: C, receivedAt: NOW };
      expect(await store.putTicket({ ...base, ticket: 't2', createTime: 2000 })).toBe(true);
      expect(await store.putTicket({ ...base, ticket: 't1', createTime: 1000 })).toBe(false);
      expect(await store.putTicket({ ...base, ticket: 't2-dup', createTime: 2000 })).toBe(false);
      expect((await store.getTicket(C))?.ticket).toBe('t2');
      expect(await store.putTicket({ ...base, ticket: 't3', createTime: 3000 })).toBe(true);
      expect(await store.getTicket(C)).toEqual({ ...base, ticket: 't3', createTime: 3000 });
    });
  });

  describe('component token leases', () => {
    const ref = { kind: 'component_token', componentAppId: C } as const;

    it('creates the record on the first claim and saves as the lease holder', async () => {
      await store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW);
      const saved = await store.saveComponentToken(
        C,
        'a',
        { accessToken: 'tok', expiresAt: NOW + 7_200_000, refreshAt: NOW + 6_300_000 },
        NOW
      );
      expect(saved).toEqual({
        componentAppId: C,
        accessToken: 'tok',
        expiresAt: NOW + 7_200_000,
        refreshAt: NOW + 6_300_000,
        issuedAt: NOW,
        version: 1,
        updatedAt: NOW,
      });
      expect(await store.getComponentToken(C)).toEqual(saved);
    });

    it('lets exactly one of two claimants of the same version win', async () => {
      const results = await Promise.allSettled([
        store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW),
        store.claim(ref, 0, { owner: 'b', until: NOW + 30_000 }, NOW),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(loser.reason).toBeInstanceOf(ConcurrentUpdateError);
    });

    it('refuses a claim on a stale version and a save by a non-holder', async () => {
      await store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW);
      await store.saveComponentToken(C, 'a', { accessToken: 't', expiresAt: 1, refreshAt: 1 }, NOW);
      await expect(store.claim(ref, 0, { owner: 'b', until: NOW + 1 }, NOW)).rejects.toThrow(
        ConcurrentUpdateError
      );
      await expect(
        store.saveComponentToken(C, 'b', { accessToken: 'x', expiresAt: 1, refreshAt: 1 }, NOW)
      ).rejects.toThrow(ConcurrentUpdateError);
      expect((await store.getComponentToken(C))?.accessToken).toBe('t');
    });

    it('lets a new claimant take over an expired lease, and the old holder can no longer save', async () => {
      await store.claim(ref, 0, { owner: 'crashed', until: NOW + 30_000 }, NOW);
      await expect(
        store.claim(ref, 0, { owner: 'b', until: NOW + 60_000 }, NOW + 10_000)
      ).rejects.toThrow(ConcurrentUpdateError);
      await store.claim(ref, 0, { owner: 'b', until: NOW + 90_000 }, NOW + 30_001);
      await expect(
        store.saveComponentToken(
          C,
          'crashed',
          { accessToken: 'x', expiresAt: 1, refreshAt: 1 },
          NOW
        )
      ).rejects.toThrow(ConcurrentUpdateError);
      const saved = await store.saveComponentToken(
        C,
        'b',
        { accessToken: 'y', expiresAt: 2, refreshAt: 2 },
        NOW
      );
      expect(saved.version).toBe(1);
    });

    it('release records the error, frees the lease and ignores a non-holder', async () => {
      await store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW);
      await store.release(ref, 'someone-else', { errorCode: 'x' }, NOW);
      expect((await store.getComponentToken(C))?.leaseOwner).toBe('a');
      await store.release(ref, 'a', { errorCode: 'wechat_busy', retryAt: NOW + 60_000 }, NOW);
      const record = await store.getComponentToken(C);
      expect(record?.leaseOwner).toBeUndefined();
      expect(record?.leaseUntil).toBeUndefined();
      expect(record?.lastErrorCode).toBe('wechat_busy');
      expect(record?.refreshAt).toBe(NOW + 60_000);
      await store.claim(ref, 0, { owner: 'b', until: NOW + 30_000 }, NOW);
    });

    it('release after an uncertain outcome lowers the expiry, and never raises it', async () => {
      await store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW);
      await store.saveComponentToken(
        C,
        'a',
        { accessToken: 'tok', expiresAt: NOW + 7_200_000, refreshAt: NOW + 6_300_000 },
        NOW
      );
      await store.claim(ref, 1, { owner: 'b', until: NOW + 30_000 }, NOW);
      await store.release(
        ref,
        'b',
        { errorCode: 'x', retryAt: NOW, expiresAt: NOW + 300_000 },
        NOW
      );
      expect(await store.getComponentToken(C)).toMatchObject({
        accessToken: 'tok',
        expiresAt: NOW + 300_000,
        refreshAt: NOW,
        lastErrorCode: 'x',
      });
      await store.claim(ref, 1, { owner: 'c', until: NOW + 30_000 }, NOW + 1);
      await store.release(ref, 'c', { errorCode: 'y', expiresAt: NOW + 900_000 }, NOW + 1);
      const record = await store.getComponentToken(C);
      expect(record).toMatchObject({ expiresAt: NOW + 300_000, lastErrorCode: 'y' });
      expect(record?.leaseOwner).toBeUndefined();
    });
  });

  describe('authorizers', () => {
    const ref = { kind: 'authorizer', componentAppId: C, authorizerAppId: A } as const;

    it('stores an authorization as active and lists it once due', async () => {
      expect(await store.saveAuthorization(authorization(), NOW)).toBe(true);
      expect(await store.getAuthorizer(C, A)).toEqual({
        componentAppId: C,
        authorizerAppId: A,
        status: 'active',
        accessToken: 'access-1',
        expiresAt: NOW + 7_200_000,
        refreshToken: 'refresh-1',
        funcInfo: [1, 2],
        refreshAt: NOW + 6_300_000,
        issuedAt: NOW,
        authorizedAt: NOW,
        version: 1,
        updatedAt: NOW,
      });
      expect((await store.listDueAuthorizers(C, NOW, 10)).items).toEqual([]);
      const due = await store.listDueAuthorizers(C, NOW + 6_300_000, 10);
      expect(due.items.map((a) => a.authorizerAppId)).toEqual([A]);
      expect(due.items[0]?.version).toBe(1);
    });

    it('stores an authorization without a refresh token as without_api_permission, never due', async () => {
      await store.saveAuthorization(
        authorization({ refreshToken: undefined, accessToken: undefined, expiresAt: undefined }),
        NOW
      );
      const record = await store.getAuthorizer(C, A);
      expect(record).toMatchObject({ status: 'without_api_permission', funcInfo: [1, 2] });
      expect(record?.accessToken).toBeUndefined();
      expect(record?.refreshToken).toBeUndefined();
      expect((await store.listDueAuthorizers(C, NOW + 1e12, 10)).items).toEqual([]);
      await store.saveAuthorization(authorization({ authorizedAt: NOW + 1 }), NOW + 1);
      expect(await store.getAuthorizer(C, A)).toMatchObject({ status: 'active' });
    });

    it('does not claim an authorizer that does not exist', async () => {
      await expect(store.claim(ref, 0, { owner: 'a', until: NOW + 1 }, NOW)).rejects.toThrow(
        ConcurrentUpdateError
      );
      expect(await store.getAuthorizer(C, A)).toBeUndefined();
    });

    it('saves a refreshed token with the refresh token WeChat returned', async () => {
      await store.saveAuthorization(authorization(), NOW);
      await store.claim(ref, 1, { owner: 'a', until: NOW + 30_000 }, NOW);
      const saved = await store.saveAuthorizerToken(
        C,
        A,
        'a',
        { accessToken: 'access-2', expiresAt: NOW + 9e6, refreshAt: NOW + 8e6, refreshToken: 'r2' },
        NOW + 5
      );
      expect(saved).toMatchObject({
        accessToken: 'access-2',
        refreshToken: 'r2',
        version: 2,
        status: 'active',
        funcInfo: [1, 2],
        updatedAt: NOW + 5,
      });
      expect(saved.leaseOwner).toBeUndefined();
      expect((await store.listDueAuthorizers(C, NOW + 8e6, 10)).items).toHaveLength(1);
    });

    it('refuses a token save once the authorizer was revoked', async () => {
      await store.saveAuthorization(authorization(), NOW);
      await store.claim(ref, 1, { owner: 'a', until: NOW + 30_000 }, NOW);
      await store.endAuthorization(C, A, 'revoked', { eventTime: NOW + 1 }, NOW + 1);
      await expect(
        store.saveAuthorizerToken(
          C,
          A,
          'a',
          { accessToken: 'x', expiresAt: 1, refreshAt: 1, refreshToken: 'r' },
          NOW
        )
      ).rejects.toThrow(ConcurrentUpdateError);
    });

    it('revocation drops tokens and leaves the due index; a late revocation cannot undo a newer authorization', async () => {
      await store.saveAuthorization(authorization({ authorizedAt: NOW }), NOW);
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: NOW - 1 }, NOW)).toBe(
        false
      );
      expect((await store.getAuthorizer(C, A))?.status).toBe('active');
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: NOW + 10 }, NOW + 10)).toBe(
        true
      );
      const revoked = await store.getAuthorizer(C, A);
      expect(revoked).toMatchObject({ status: 'revoked', endedAt: NOW + 10, version: 2 });
      expect(revoked?.accessToken).toBeUndefined();
      expect(revoked?.refreshToken).toBeUndefined();
      expect(revoked?.refreshAt).toBeUndefined();
      expect((await store.listDueAuthorizers(C, NOW + 1e9, 10)).items).toEqual([]);
      expect(
        await store.saveAuthorization(
          authorization({ authorizedAt: NOW + 20, refreshToken: 'r-new' }),
          NOW + 20
        )
      ).toBe(true);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        status: 'active',
        refreshToken: 'r-new',
        version: 3,
      });
    });

    it('creates a tombstone for an unknown authorizer', async () => {
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: NOW }, NOW)).toBe(true);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        status: 'revoked',
        funcInfo: [],
        authorizedAt: 0,
        version: 1,
      });
    });

    it('ends for re-authorization only while the failing refresh token is still stored', async () => {
      await store.saveAuthorization(authorization({ refreshToken: 'newer' }), NOW);
      const guard = { eventTime: NOW + 1, expectedRefreshToken: 'older' };
      expect(await store.endAuthorization(C, A, 'needs_reauthorization', guard, NOW + 1)).toBe(
        false
      );
      expect((await store.getAuthorizer(C, A))?.status).toBe('active');
      const matching = { eventTime: NOW + 1, expectedRefreshToken: 'newer' };
      expect(await store.endAuthorization(C, A, 'needs_reauthorization', matching, NOW + 1)).toBe(
        true
      );
      expect((await store.getAuthorizer(C, A))?.status).toBe('needs_reauthorization');
    });

    it('ignores an exchange older than the stored authorization', async () => {
      await store.saveAuthorization(authorization({ authorizedAt: NOW + 100 }), NOW);
      expect(
        await store.saveAuthorization(
          authorization({ authorizedAt: NOW, refreshToken: 'old' }),
          NOW
        )
      ).toBe(false);
      expect((await store.getAuthorizer(C, A))?.refreshToken).toBe('refresh-1');
    });

    it('replaces the refresh token only while it is still the expected one', async () => {
      await store.saveAuthorization(authorization(), NOW);
      expect(await store.replaceRefreshToken(C, A, 'other', 'r9', NOW)).toBe(false);
      expect(await store.replaceRefreshToken(C, A, 'refresh-1', 'r9', NOW)).toBe(true);
      expect((await store.getAuthorizer(C, A))?.refreshToken).toBe('r9');
    });

    it('pages through due authorizers in refreshAt order without returning future ones', async () => {
      for (let i = 0; i < 7; i++) {
        await store.saveAuthorization(
          authorization({ authorizerAppId: `wxauthorizer0000${i}`, refreshAt: NOW + i }),
          NOW
        );
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listDueAuthorizers(C, NOW + 4, 2, cursor);
        seen.push(...page.items.map((a) => a.authorizerAppId));
        cursor = page.cursor;
      } while (cursor);
      expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `wxauthorizer0000${i}`));
    });
  });

  describe('auth codes', () => {
    const fresh = {
      componentAppId: C,
      code: 'queryauthcode@@@abc',
      expiresAt: NOW + 600_000,
      source: 'redirect' as const,
      receivedAt: NOW,
    };
    const ref = { kind: 'auth_code', componentAppId: C, code: fresh.code } as const;

    it('stores a code once and returns the existing record to the second writer', async () => {
      const first = await store.putAuthCode(fresh);
      expect(first).toEqual({
        created: true,
        record: { ...fresh, version: 0, status: 'pending', attempts: 0, nextAttemptAt: NOW },
      });
      const second = await store.putAuthCode({ ...fresh, source: 'push', authorizerAppId: A });
      expect(second.created).toBe(false);
      expect(second.record.source).toBe('redirect');
      expect(await store.listPendingAuthCodes(C, NOW, 10)).toHaveLength(1);
    });

    it('finishing as the lease holder takes the code off the pending list', async () => {
      await store.putAuthCode(fresh);
      await store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW);
      await expect(store.claim(ref, 0, { owner: 'b', until: NOW + 30_000 }, NOW)).rejects.toThrow(
        ConcurrentUpdateError
      );
      const done = await store.finishAuthCode(
        C,
        fresh.code,
        'a',
        { status: 'exchanged', authorizerAppId: A },
        NOW + 1
      );
      expect(done).toMatchObject({ status: 'exchanged', authorizerAppId: A, version: 1 });
      expect(done.nextAttemptAt).toBeUndefined();
      expect(await store.listPendingAuthCodes(C, NOW + 1e9, 10)).toEqual([]);
      await expect(
        store.finishAuthCode(C, fresh.code, 'b', { status: 'failed' }, NOW)
      ).rejects.toThrow(ConcurrentUpdateError);
    });

    it('a released code counts the attempt and waits for its retry time', async () => {
      await store.putAuthCode(fresh);
      await store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW);
      await store.release(ref, 'a', { errorCode: 'wechat_busy', retryAt: NOW + 60_000 }, NOW);
      expect(await store.listPendingAuthCodes(C, NOW + 59_999, 10)).toEqual([]);
      const [pending] = await store.listPendingAuthCodes(C, NOW + 60_000, 10);
      expect(pending).toMatchObject({ attempts: 1, outcomeCode: 'wechat_busy', version: 0 });
      expect(pending?.leaseOwner).toBeUndefined();
    });

    it('a release can mark the exchange uncertain, and a later release keeps the mark', async () => {
      await store.putAuthCode(fresh);
      await store.claim(ref, 0, { owner: 'a', until: NOW + 30_000 }, NOW);
      await store.release(ref, 'a', { errorCode: 'wechat_unavailable', uncertainAt: NOW }, NOW);
      await store.claim(ref, 0, { owner: 'b', until: NOW + 30_000 }, NOW + 1);
      await store.release(ref, 'b', { errorCode: 'other' }, NOW + 1);
      expect(await store.getAuthCode(C, fresh.code)).toMatchObject({
        uncertainAt: NOW,
        outcomeCode: 'other',
        attempts: 2,
      });
    });
  });
  describe('budgets', () => {
    const minute = {
      componentAppId: C,
      name: 'authorize/minute',
      startsAt: NOW,
      endsAt: NOW + 60_000,
    };

    it('counts up to the limit, then refuses', async () => {
      const counted = [];
      for (let i = 0; i < 4; i += 1) counted.push(await store.spendBudget(minute, 3));
      expect(counted).toEqual([true, true, true, false]);
    });

    it('keeps windows, names and platforms apart', async () => {
      expect(await store.spendBudget(minute, 1)).toBe(true);
      expect(await store.spendBudget(minute, 1)).toBe(false);
      expect(await store.spendBudget({ ...minute, startsAt: NOW + 60_000 }, 1)).toBe(true);
      expect(await store.spendBudget({ ...minute, name: 'authorize-callback/minute' }, 1)).toBe(
        true
      );
      expect(await store.spendBudget({ ...minute, componentAppId: 'wxcomponent000002' }, 1)).toBe(
        true
      );
    });

    it('a lower limit applies to what was already counted', async () => {
      await store.spendBudget(minute, 5);
      await store.spendBudget(minute, 5);
      expect(await store.spendBudget(minute, 2)).toBe(false);
      expect(await store.spendBudget(minute, 3)).toBe(true);
    });

    it('never counts past the limit under 60 concurrent spenders', async () => {
      const counted = await Promise.all(
        Array.from({ length: 60 }, () => store.spendBudget(minute, 20))
      );
      expect(counted.filter(Boolean)).toHaveLength(20);
      expect(await store.spendBudget(minute, 20)).toBe(false);
    });
  });
});
