import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../../../local/local-dynamo';
import { ConcurrentUpdateError, InvalidRequestError } from '../../../../shared/errors';
import { DUE_INDEX_SHARDS } from '../../../../shared/policy';
import { DynamoDbTokenStore } from '../../../../shared/store/dynamodb-token-store';
import type {
  AuthorizerRecord,
  AuthorizerStatus,
  AuthorizerSummary,
  AuthorizerTicketType,
  DuePartition,
  NewAuthorization,
  TokenStore,
} from '../../../../shared/store/token-store';
import { MemoryTokenStore } from '../../../support/memory-token-store';
import {
  AUTHORIZER_APPID as A,
  authorizerAppId,
  OTHER_AUTHORIZER_APPID as B,
  COMPONENT_APPID as C,
  OTHER_COMPONENT_APPID,
  T0,
} from '../../../support/test-ids';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

interface Subject {
  store: TokenStore;
  /** Puts an authorizer back on the `due` partition of before sharding, as an earlier release wrote it. */
  toLegacyPartition(authorizerAppId: string): Promise<void>;
}

const implementations: [string, () => Promise<Subject>][] = [
  [
    'MemoryTokenStore',
    async () => {
      const store = new MemoryTokenStore();
      return {
        store,
        toLegacyPartition: async (authorizerAppId) => {
          store.legacyDue.add(`${C}#${authorizerAppId}`);
        },
      };
    },
  ],
  [
    'DynamoDbTokenStore on dynalite',
    async () => {
      const tableName = await dynamo.createTable();
      return {
        store: new DynamoDbTokenStore(dynamo.doc, tableName),
        toLegacyPartition: async (authorizerAppId) => {
          await dynamo.doc.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { pk: `AUTHORIZER#${C}#${authorizerAppId}` },
              UpdateExpression: 'SET dueKey = :legacy',
              ExpressionAttributeValues: { ':legacy': `DUE#${C}` },
            })
          );
        },
      };
    },
  ],
];

/** Every page of one partition, in order. */
async function listPartition(
  store: TokenStore,
  partition: DuePartition,
  now: number,
  limit: number
): Promise<AuthorizerRecord[]> {
  const items: AuthorizerRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listDueAuthorizers(partition, now, limit, cursor);
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return items;
}

/** What every partition of the platform lists at `now`, partition by partition. */
async function duePerPartition(store: TokenStore, now: number, limit = 10) {
  const lists: { partition: DuePartition; items: AuthorizerRecord[] }[] = [];
  for (const partition of store.duePartitions(C)) {
    lists.push({ partition, items: await listPartition(store, partition, now, limit) });
  }
  return lists;
}

/** Every due authorizer of the platform at `now`, from all partitions. */
async function allDue(store: TokenStore, now: number): Promise<AuthorizerRecord[]> {
  return (await duePerPartition(store, now)).flatMap((p) => p.items);
}

const appIds = (items: AuthorizerRecord[]) => items.map((a) => a.authorizerAppId);

function authorization(overrides: Partial<NewAuthorization> = {}): NewAuthorization {
  return {
    componentAppId: C,
    authorizerAppId: A,
    accessToken: 'access-1',
    expiresAt: T0 + 7_200_000,
    refreshToken: 'refresh-1',
    funcInfo: [1, 2],
    refreshAt: T0 + 6_300_000,
    authorizedAt: T0,
    ...overrides,
  };
}

describe.each(implementations)('TokenStore contract: %s', (_name, makeSubject) => {
  let store: TokenStore;
  let subject: Subject;
  beforeEach(async () => {
    subject = await makeSubject();
    store = subject.store;
  });

  describe('tickets', () => {
    it('keeps the ticket with the newest CreateTime', async () => {
      const base = { componentAppId: C, receivedAt: T0 };
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
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      const saved = await store.saveComponentToken(
        C,
        'a',
        { accessToken: 'tok', expiresAt: T0 + 7_200_000, refreshAt: T0 + 6_300_000 },
        T0
      );
      expect(saved).toEqual({
        componentAppId: C,
        accessToken: 'tok',
        expiresAt: T0 + 7_200_000,
        refreshAt: T0 + 6_300_000,
        issuedAt: T0,
        requestedAt: T0,
        version: 1,
        updatedAt: T0,
      });
      expect(await store.getComponentToken(C)).toEqual(saved);
    });

    it('lets exactly one of two claimants of the same version win', async () => {
      const results = await Promise.allSettled([
        store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0),
        store.claim(ref, 0, { owner: 'b', until: T0 + 30_000 }, T0),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(loser.reason).toBeInstanceOf(ConcurrentUpdateError);
    });

    it('refuses a claim on a stale version and a save by a non-holder', async () => {
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.saveComponentToken(C, 'a', { accessToken: 't', expiresAt: 1, refreshAt: 1 }, T0);
      await expect(store.claim(ref, 0, { owner: 'b', until: T0 + 1 }, T0)).rejects.toThrow(
        ConcurrentUpdateError
      );
      await expect(
        store.saveComponentToken(C, 'b', { accessToken: 'x', expiresAt: 1, refreshAt: 1 }, T0)
      ).rejects.toThrow(ConcurrentUpdateError);
      expect((await store.getComponentToken(C))?.accessToken).toBe('t');
    });

    it('lets a new claimant take over an expired lease, and the old holder can no longer save', async () => {
      await store.claim(ref, 0, { owner: 'crashed', until: T0 + 30_000 }, T0);
      await expect(
        store.claim(ref, 0, { owner: 'b', until: T0 + 60_000 }, T0 + 10_000)
      ).rejects.toThrow(ConcurrentUpdateError);
      await store.claim(ref, 0, { owner: 'b', until: T0 + 90_000 }, T0 + 30_001);
      await expect(
        store.saveComponentToken(C, 'crashed', { accessToken: 'x', expiresAt: 1, refreshAt: 1 }, T0)
      ).rejects.toThrow(ConcurrentUpdateError);
      const saved = await store.saveComponentToken(
        C,
        'b',
        { accessToken: 'y', expiresAt: 2, refreshAt: 2 },
        T0
      );
      expect(saved.version).toBe(1);
    });

    it('release records the error, frees the lease and ignores a non-holder', async () => {
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.release(ref, 'someone-else', { errorCode: 'x' }, T0);
      expect((await store.getComponentToken(C))?.leaseOwner).toBe('a');
      await store.release(ref, 'a', { errorCode: 'wechat_busy', retryAt: T0 + 60_000 }, T0);
      const record = await store.getComponentToken(C);
      expect(record?.leaseOwner).toBeUndefined();
      expect(record?.leaseUntil).toBeUndefined();
      expect(record?.lastErrorCode).toBe('wechat_busy');
      expect(record?.refreshAt).toBe(T0 + 60_000);
      await store.claim(ref, 0, { owner: 'b', until: T0 + 30_000 }, T0);
    });

    it('release after an uncertain outcome lowers the expiry, and never raises it', async () => {
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.saveComponentToken(
        C,
        'a',
        { accessToken: 'tok', expiresAt: T0 + 7_200_000, refreshAt: T0 + 6_300_000 },
        T0
      );
      await store.claim(ref, 1, { owner: 'b', until: T0 + 30_000 }, T0);
      await store.release(ref, 'b', { errorCode: 'x', retryAt: T0, expiresAt: T0 + 300_000 }, T0);
      expect(await store.getComponentToken(C)).toMatchObject({
        accessToken: 'tok',
        expiresAt: T0 + 300_000,
        refreshAt: T0,
        lastErrorCode: 'x',
      });
      await store.claim(ref, 1, { owner: 'c', until: T0 + 30_000 }, T0 + 1);
      await store.release(ref, 'c', { errorCode: 'y', expiresAt: T0 + 900_000 }, T0 + 1);
      const record = await store.getComponentToken(C);
      expect(record).toMatchObject({ expiresAt: T0 + 300_000, lastErrorCode: 'y' });
      expect(record?.leaseOwner).toBeUndefined();
    });
  });

  describe('authorizer tickets', () => {
    const ref = (type: AuthorizerTicketType = 'jsapi', authorizerAppId = A) =>
      ({ kind: 'authorizer_ticket', componentAppId: C, authorizerAppId, type }) as const;
    const ticket = (value: string, at: number, extra: { servedAt?: number } = {}) => ({
      ticket: value,
      expiresAt: at + 7_200_000,
      refreshAt: at + 6_300_000,
      requestedAt: at - 10,
      ...extra,
    });
    /** Every due ticket of the platform at `now`, as `appid/type`, over pages of 2. */
    async function dueTickets(now: number) {
      const listed: string[] = [];
      for (const partition of store.ticketDuePartitions(C)) {
        let cursor: string | undefined;
        do {
          const page = await store.listDueTickets(partition, now, 2, cursor);
          listed.push(...page.items.map((t) => `${t.authorizerAppId}/${t.type}`));
          cursor = page.cursor;
        } while (cursor);
      }
      return listed.sort();
    }
    async function saved(value: string, at: number, type: AuthorizerTicketType = 'jsapi') {
      const current = await store.getAuthorizerTicket(C, A, type);
      await store.claim(ref(type), current?.version ?? 0, { owner: value, until: at + 30_000 }, at);
      return store.saveAuthorizerTicket(C, A, type, value, ticket(value, at, { servedAt: at }), at);
    }

    it('creates the record on the first claim, a lease no ticket yet, and saves as the lease holder', async () => {
      await store.claim(ref(), 0, { owner: 'a', until: T0 + 30_000 }, T0);
      expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({
        componentAppId: C,
        authorizerAppId: A,
        type: 'jsapi',
        version: 0,
        leaseOwner: 'a',
      });
      expect((await store.getAuthorizerTicket(C, A, 'jsapi'))?.ticket).toBeUndefined();
      await expect(
        store.saveAuthorizerTicket(C, A, 'jsapi', 'b', ticket('x', T0), T0)
      ).rejects.toThrow(ConcurrentUpdateError);

      const record = await store.saveAuthorizerTicket(
        C,
        A,
        'jsapi',
        'a',
        ticket('jsapi-1', T0, { servedAt: T0 }),
        T0
      );

      expect(record).toEqual({
        componentAppId: C,
        authorizerAppId: A,
        type: 'jsapi',
        ticket: 'jsapi-1',
        expiresAt: T0 + 7_200_000,
        refreshAt: T0 + 6_300_000,
        requestedAt: T0 - 10,
        issuedAt: T0,
        servedAt: T0,
        updatedAt: T0,
        version: 1,
      });
      expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toEqual(record);
      expect(await store.getAuthorizerTicket(C, A, 'wx_card')).toBeUndefined();
      expect(await store.getAuthorizerTicket(C, B, 'jsapi')).toBeUndefined();
    });

    it('lets exactly one of concurrent first claimants win', async () => {
      const results = await Promise.allSettled(
        ['a', 'b', 'c'].map((owner) => store.claim(ref(), 0, { owner, until: T0 + 30_000 }, T0))
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    it('a save without servedAt keeps the one stored, and clears the last failure', async () => {
      await saved('jsapi-1', T0);
      await store.claim(ref(), 1, { owner: 'sweep', until: T0 + 30_000 }, T0 + 1);
      await store.release(ref(), 'sweep', { errorCode: 'wechat_quota', retryAt: T0 + 5 }, T0 + 1);
      await store.claim(ref(), 1, { owner: 'sweep', until: T0 + 60_000 }, T0 + 10);

      const record = await store.saveAuthorizerTicket(
        C,
        A,
        'jsapi',
        'sweep',
        ticket('jsapi-2', T0 + 10),
        T0 + 10
      );

      expect(record).toMatchObject({ ticket: 'jsapi-2', servedAt: T0, version: 2 });
      expect(record.lastErrorCode).toBeUndefined();
      expect(record.leaseOwner).toBeUndefined();
    });

    it('lists saved tickets once due, per authorizer and type, over every partition', async () => {
      await saved('jsapi-1', T0);
      await saved('wx_card-1', T0 + 1000, 'wx_card');
      await store.claim(ref('jsapi', B), 0, { owner: 'b', until: T0 + 30_000 }, T0);
      await store.saveAuthorizerTicket(C, B, 'jsapi', 'b', ticket('b-1', T0 + 2000), T0 + 2000);
      await store.claim(ref('jsapi', authorizerAppId(9)), 0, { owner: 'x', until: T0 + 1 }, T0);

      expect(await dueTickets(T0 + 6_300_000 - 1)).toEqual([]);
      expect(await dueTickets(T0 + 6_300_000 + 1000)).toEqual([`${A}/jsapi`, `${A}/wx_card`]);
      expect(await dueTickets(T0 + 9_000_000)).toEqual([
        `${A}/jsapi`,
        `${A}/wx_card`,
        `${B}/jsapi`,
      ]);
      expect(await allDue(store, T0 + 9_000_000)).toEqual([]);
    });

    it('notes a serve once per interval: a note at or after notBefore wins', async () => {
      await saved('jsapi-1', T0);

      expect(await store.noteTicketServed(C, A, 'jsapi', T0 + 10, T0 + 1)).toBe(true);
      expect(await store.noteTicketServed(C, A, 'jsapi', T0 + 20, T0 + 10)).toBe(false);
      expect(await store.noteTicketServed(C, A, 'wx_card', T0 + 20, T0)).toBe(false);
      expect((await store.getAuthorizerTicket(C, A, 'jsapi'))?.servedAt).toBe(T0 + 10);
    });

    it('retires a ticket not served since servedBefore; a later serve keeps it, a later save brings it back', async () => {
      await saved('jsapi-1', T0);
      const due = T0 + 9_000_000;

      expect(await store.retireTicket(C, A, 'jsapi', T0, due)).toBe(false);
      expect(await dueTickets(due)).toEqual([`${A}/jsapi`]);
      expect(await store.retireTicket(C, A, 'jsapi', T0 + 1, due)).toBe(true);
      expect(await dueTickets(due)).toEqual([]);
      expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({ ticket: 'jsapi-1' });
      expect(await store.retireTicket(C, B, 'jsapi', due, due)).toBe(false);

      await saved('jsapi-2', due);
      expect(await dueTickets(due + 9_000_000)).toEqual([`${A}/jsapi`]);
    });

    it('release records a failure and caps the expiry as for tokens', async () => {
      await saved('jsapi-1', T0);
      await store.claim(ref(), 1, { owner: 'b', until: T0 + 30_000 }, T0);
      await store.release(
        ref(),
        'b',
        { errorCode: 'wechat_unavailable', retryAt: T0, expiresAt: T0 + 300_000 },
        T0
      );
      expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({
        ticket: 'jsapi-1',
        expiresAt: T0 + 300_000,
        refreshAt: T0,
        lastErrorCode: 'wechat_unavailable',
        version: 1,
      });
    });
  });

  describe('authorizers', () => {
    const ref = { kind: 'authorizer', componentAppId: C, authorizerAppId: A } as const;

    it('stores an authorization as active and lists it once due', async () => {
      expect(await store.saveAuthorization(authorization(), T0)).toBe(true);
      expect(await store.getAuthorizer(C, A)).toEqual({
        componentAppId: C,
        authorizerAppId: A,
        status: 'active',
        accessToken: 'access-1',
        expiresAt: T0 + 7_200_000,
        refreshToken: 'refresh-1',
        funcInfo: [1, 2],
        refreshAt: T0 + 6_300_000,
        issuedAt: T0,
        requestedAt: T0,
        authorizedAt: T0,
        version: 1,
        updatedAt: T0,
      });
      expect(await allDue(store, T0)).toEqual([]);
      const due = await allDue(store, T0 + 6_300_000);
      expect(appIds(due)).toEqual([A]);
      expect(due[0]?.version).toBe(1);
    });

    it('stores an authorization without a refresh token as without_api_permission, never due', async () => {
      await store.saveAuthorization(
        authorization({ refreshToken: undefined, accessToken: undefined, expiresAt: undefined }),
        T0
      );
      const record = await store.getAuthorizer(C, A);
      expect(record).toMatchObject({ status: 'without_api_permission', funcInfo: [1, 2] });
      expect(record?.accessToken).toBeUndefined();
      expect(record?.refreshToken).toBeUndefined();
      expect(await allDue(store, T0 + 1e12)).toEqual([]);
      await store.saveAuthorization(authorization({ authorizedAt: T0 + 1 }), T0 + 1);
      expect(await store.getAuthorizer(C, A)).toMatchObject({ status: 'active' });
    });

    it('claims an authorizer not there yet only at version 0, as a lease no reader sees and a new authorization writes over', async () => {
      await expect(store.claim(ref, 1, { owner: 'a', until: T0 + 30_000 }, T0)).rejects.toThrow(
        ConcurrentUpdateError
      );
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await expect(store.claim(ref, 0, { owner: 'b', until: T0 + 30_000 }, T0)).rejects.toThrow(
        ConcurrentUpdateError
      );
      expect(await store.getAuthorizer(C, A)).toBeUndefined();
      expect((await store.listAuthorizers(C, { limit: 10 })).items).toEqual([]);

      expect(await store.saveAuthorization(authorization({ expectedVersion: 0 }), T0)).toBe(true);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        status: 'active',
        version: 1,
        leaseOwner: 'a',
      });
      await store.release(ref, 'a', {}, T0 + 1);
      expect((await store.getAuthorizer(C, A))?.leaseOwner).toBeUndefined();
      await expect(store.claim(ref, 0, { owner: 'c', until: T0 + 30_000 }, T0)).rejects.toThrow(
        ConcurrentUpdateError
      );
    });

    it('a lease-only claim given up leaves no record, and is claimed again at version 0', async () => {
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.release(ref, 'a', {}, T0 + 1);
      expect(await store.getAuthorizer(C, A)).toBeUndefined();
      await store.claim(ref, 0, { owner: 'b', until: T0 + 30_000 }, T0 + 2);
      expect(await store.getAuthorizer(C, A)).toBeUndefined();
    });

    it('saves a refreshed token with the refresh token WeChat returned', async () => {
      await store.saveAuthorization(authorization(), T0);
      await store.claim(ref, 1, { owner: 'a', until: T0 + 30_000 }, T0);
      const saved = await store.saveAuthorizerToken(
        C,
        A,
        'a',
        { accessToken: 'access-2', expiresAt: T0 + 9e6, refreshAt: T0 + 8e6, refreshToken: 'r2' },
        T0 + 5
      );
      expect(saved).toMatchObject({
        accessToken: 'access-2',
        refreshToken: 'r2',
        version: 2,
        status: 'active',
        funcInfo: [1, 2],
        updatedAt: T0 + 5,
      });
      expect(saved.leaseOwner).toBeUndefined();
      expect(await allDue(store, T0 + 8e6)).toHaveLength(1);
    });

    it("refuses a lease holder's save when another writer moved the version, and keeps its lease", async () => {
      await store.saveAuthorization(authorization(), T0);
      await store.claim(ref, 1, { owner: 'a', until: T0 + 30_000 }, T0);
      expect(
        await store.saveAuthorization(
          authorization({ accessToken: 'access-x', expectedVersion: 1, authorizedAt: T0 + 1 }),
          T0 + 1
        )
      ).toBe(true);
      const moved = await store.getAuthorizer(C, A);
      expect(moved).toMatchObject({ accessToken: 'access-x', version: 2, leaseOwner: 'a' });
      const token = { accessToken: 'access-2', expiresAt: T0 + 9e6, refreshAt: T0 + 8e6 };
      await expect(
        store.saveAuthorizerToken(C, A, 'a', { ...token, refreshToken: 'r2' }, T0 + 2, 1)
      ).rejects.toThrow(ConcurrentUpdateError);
      const saved = await store.saveAuthorizerToken(
        C,
        A,
        'a',
        { ...token, refreshToken: 'r2', requestedAt: T0 + 1 },
        T0 + 2,
        2
      );
      expect(saved).toMatchObject({ accessToken: 'access-2', version: 3, requestedAt: T0 + 1 });
      expect(saved.issuedAt).toBe(T0 + 2);
    });

    it('stores an authorization only on the version it was decided on', async () => {
      expect(await store.saveAuthorization(authorization({ expectedVersion: 1 }), T0)).toBe(false);
      expect(await store.getAuthorizer(C, A)).toBeUndefined();
      expect(await store.saveAuthorization(authorization({ expectedVersion: 0 }), T0)).toBe(true);
      expect(await store.saveAuthorization(authorization({ expectedVersion: 0 }), T0)).toBe(false);
      expect(
        await store.saveAuthorization(
          authorization({ expectedVersion: 1, issuedAt: T0 - 5, requestedAt: T0 - 9 }),
          T0
        )
      ).toBe(true);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        version: 2,
        issuedAt: T0 - 5,
        requestedAt: T0 - 9,
      });
    });

    it("records a report check and a code's authorizer on release", async () => {
      await store.saveAuthorization(authorization(), T0);
      await store.claim(ref, 1, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.release(ref, 'a', { reportCheckedAt: T0 + 3 }, T0 + 3);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        reportCheckedAt: T0 + 3,
        version: 1,
      });
      await store.claim(ref, 1, { owner: 'b', until: T0 + 30_000 }, T0 + 4);
      const renewed = await store.saveAuthorizerToken(
        C,
        A,
        'b',
        { accessToken: 'access-2', expiresAt: T0 + 9e6, refreshAt: T0 + 8e6, refreshToken: 'r' },
        T0 + 5,
        1
      );
      expect(renewed.reportCheckedAt).toBeUndefined();
      const code = { kind: 'auth_code', componentAppId: C, code: 'code-1' } as const;
      await store.putAuthCode({
        componentAppId: C,
        code: 'code-1',
        expiresAt: T0 + 600_000,
        source: 'redirect',
        receivedAt: T0,
      });
      await store.claim(code, 0, { owner: 'c', until: T0 + 30_000 }, T0);
      await store.release(code, 'c', { errorCode: 'x', authorizerAppId: A }, T0);
      expect(await store.getAuthCode(C, 'code-1')).toMatchObject({ authorizerAppId: A });
    });

    it('refuses a token save once the authorizer was revoked', async () => {
      await store.saveAuthorization(authorization(), T0);
      await store.claim(ref, 1, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.endAuthorization(C, A, 'revoked', { eventTime: T0 + 1 }, T0 + 1);
      await expect(
        store.saveAuthorizerToken(
          C,
          A,
          'a',
          { accessToken: 'x', expiresAt: 1, refreshAt: 1, refreshToken: 'r' },
          T0
        )
      ).rejects.toThrow(ConcurrentUpdateError);
    });

    it('revocation drops tokens and leaves the due index; a late revocation cannot undo a newer authorization', async () => {
      await store.saveAuthorization(authorization({ authorizedAt: T0 }), T0);
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: T0 - 1 }, T0)).toBe(false);
      expect((await store.getAuthorizer(C, A))?.status).toBe('active');
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: T0 + 10 }, T0 + 10)).toBe(
        true
      );
      const revoked = await store.getAuthorizer(C, A);
      expect(revoked).toMatchObject({ status: 'revoked', endedAt: T0 + 10, version: 2 });
      expect(revoked?.accessToken).toBeUndefined();
      expect(revoked?.refreshToken).toBeUndefined();
      expect(revoked?.refreshAt).toBeUndefined();
      expect(await allDue(store, T0 + 1e9)).toEqual([]);
      expect(
        await store.saveAuthorization(
          authorization({ authorizedAt: T0 + 20, refreshToken: 'r-new' }),
          T0 + 20
        )
      ).toBe(true);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        status: 'active',
        refreshToken: 'r-new',
        version: 3,
      });
    });

    /** An active authorizer whose record knows all about its token: a forced renewal, a report check, a failure. */
    async function authorizerWithTokenHistory() {
      await store.saveAuthorization(authorization(), T0);
      await store.claim(ref, 1, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.saveAuthorizerToken(
        C,
        A,
        'a',
        {
          accessToken: 'access-2',
          expiresAt: T0 + 9e6,
          refreshAt: T0 + 8e6,
          refreshToken: 'refresh-1',
          forcedAt: T0 + 1,
          requestedAt: T0 + 1,
        },
        T0 + 2,
        1
      );
      await store.claim(ref, 2, { owner: 'b', until: T0 + 30_000 }, T0 + 3);
      await store.release(ref, 'b', { errorCode: 'wechat_busy', reportCheckedAt: T0 + 3 }, T0 + 3);
      await store.claim(ref, 2, { owner: 'c', until: T0 + 30_000 }, T0 + 4);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        forcedAt: T0 + 1,
        requestedAt: T0 + 1,
        issuedAt: T0 + 2,
        reportCheckedAt: T0 + 3,
        lastErrorCode: 'wechat_busy',
        leaseOwner: 'c',
      });
    }

    it('an ended authorization keeps its permissions, authorization time and last error, and nothing of its token', async () => {
      await authorizerWithTokenHistory();
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: T0 + 5 }, T0 + 6)).toBe(
        true
      );
      expect(await store.getAuthorizer(C, A)).toEqual({
        componentAppId: C,
        authorizerAppId: A,
        status: 'revoked',
        funcInfo: [1, 2],
        authorizedAt: T0,
        endedAt: T0 + 5,
        lastErrorCode: 'wechat_busy',
        version: 3,
        updatedAt: T0 + 6,
      });
    });

    it('a new authorization starts with no report check, failure or end of the token it replaces, and keeps the forced-renewal back-off', async () => {
      await authorizerWithTokenHistory();
      await store.release(ref, 'c', {}, T0 + 5);
      const renewed = authorization({
        accessToken: 'access-3',
        refreshToken: 'refresh-3',
        authorizedAt: T0 + 10,
      });
      expect(await store.saveAuthorization(renewed, T0 + 10)).toBe(true);
      const fresh = {
        componentAppId: C,
        authorizerAppId: A,
        status: 'active',
        accessToken: 'access-3',
        expiresAt: T0 + 7_200_000,
        refreshToken: 'refresh-3',
        funcInfo: [1, 2],
        refreshAt: T0 + 6_300_000,
        issuedAt: T0 + 10,
        requestedAt: T0 + 10,
        authorizedAt: T0 + 10,
        version: 3,
        updatedAt: T0 + 10,
      };
      expect(await store.getAuthorizer(C, A)).toEqual({ ...fresh, forcedAt: T0 + 1 });

      await store.claim(ref, 3, { owner: 'd', until: T0 + 30_000 }, T0 + 11);
      await store.release(ref, 'd', { errorCode: 'wechat_busy' }, T0 + 11);
      await store.endAuthorization(C, A, 'revoked', { eventTime: T0 + 12 }, T0 + 12);
      expect(await store.saveAuthorization({ ...renewed, authorizedAt: T0 + 20 }, T0 + 20)).toBe(
        true
      );
      expect(await store.getAuthorizer(C, A)).toEqual({
        ...fresh,
        issuedAt: T0 + 20,
        requestedAt: T0 + 20,
        authorizedAt: T0 + 20,
        version: 5,
        updatedAt: T0 + 20,
      });
    });

    it('creates a tombstone for an unknown authorizer', async () => {
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: T0 }, T0)).toBe(true);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        status: 'revoked',
        funcInfo: [],
        authorizedAt: 0,
        version: 1,
      });
    });

    it('ends for re-authorization only while the failing refresh token is still stored', async () => {
      await store.saveAuthorization(authorization({ refreshToken: 'newer' }), T0);
      const guard = { eventTime: T0 + 1, expectedRefreshToken: 'older' };
      expect(await store.endAuthorization(C, A, 'needs_reauthorization', guard, T0 + 1)).toBe(
        false
      );
      expect((await store.getAuthorizer(C, A))?.status).toBe('active');
      const matching = { eventTime: T0 + 1, expectedRefreshToken: 'newer' };
      expect(await store.endAuthorization(C, A, 'needs_reauthorization', matching, T0 + 1)).toBe(
        true
      );
      expect((await store.getAuthorizer(C, A))?.status).toBe('needs_reauthorization');
    });

    it('ignores an exchange older than the stored authorization', async () => {
      await store.saveAuthorization(authorization({ authorizedAt: T0 + 100 }), T0);
      expect(
        await store.saveAuthorization(authorization({ authorizedAt: T0, refreshToken: 'old' }), T0)
      ).toBe(false);
      expect((await store.getAuthorizer(C, A))?.refreshToken).toBe('refresh-1');
    });

    it('replaces the refresh token only while it is still the expected one', async () => {
      await store.saveAuthorization(authorization(), T0);
      expect(await store.replaceRefreshToken(C, A, 'other', 'r9', T0)).toBe(false);
      expect(await store.replaceRefreshToken(C, A, 'refresh-1', 'r9', T0)).toBe(true);
      expect((await store.getAuthorizer(C, A))?.refreshToken).toBe('r9');
    });

    it('writes a lifecycle event with its state change, lists the items that hold one, and settles each by id', async () => {
      const event = (id: string) => ({
        id,
        type: 'authorized',
        detail: `{"id":"${id}"}`,
        createdAt: T0,
      });
      await store.saveAuthorization(authorization({ event: event('e1') }), T0);
      await store.saveAuthorization(authorization({ authorizerAppId: B, event: event('e2') }), T0);
      await store.saveAuthorization(authorization({ authorizerAppId: authorizerAppId(3) }), T0);
      expect(
        await store.replaceRefreshToken(C, A, 'refresh-1', 'r9', T0, { event: event('e3') })
      ).toBe(true);
      expect(
        await store.endAuthorization(C, B, 'revoked', { eventTime: T0, event: event('e4') }, T0)
      ).toBe(true);
      expect((await store.getAuthorizer(C, A))?.pendingEvents).toEqual([event('e1'), event('e3')]);
      expect((await store.getAuthorizer(C, B))?.pendingEvents).toEqual([event('e2'), event('e4')]);
      const listed = await store.listAuthorizersWithPendingEvents(C, { limit: 10 });
      expect(listed.items.map((a) => a.authorizerAppId).sort()).toEqual([A, B]);

      await store.settlePendingEvent(C, A, 'e3');
      await store.settlePendingEvent(C, A, 'e3');
      expect((await store.getAuthorizer(C, A))?.pendingEvents).toEqual([event('e1')]);
      await store.settlePendingEvent(C, A, 'e1');
      await store.settlePendingEvent(C, B, 'e2');
      await store.settlePendingEvent(C, B, 'e4');
      expect((await store.listAuthorizersWithPendingEvents(C, { limit: 10 })).items).toEqual([]);
    });

    it('writes no event with a state change refused by its condition', async () => {
      const event = { id: 'e1', type: 'authorized', detail: '{}', createdAt: T0 };
      await store.saveAuthorization(authorization(), T0);
      expect(await store.saveAuthorization(authorization({ expectedVersion: 7, event }), T0)).toBe(
        false
      );
      expect(await store.replaceRefreshToken(C, A, 'other', 'r9', T0, { event })).toBe(false);
      expect(await store.endAuthorization(C, A, 'revoked', { eventTime: T0 - 1, event }, T0)).toBe(
        false
      );
      expect((await store.getAuthorizer(C, A))?.pendingEvents ?? []).toEqual([]);
    });

    it('keeps the listed authorization time and permission sets given with a recovered refresh token', async () => {
      await store.saveAuthorization(authorization(), T0);
      expect(
        await store.replaceRefreshToken(C, A, 'refresh-1', 'r9', T0, {
          authorizedAt: T0 + 600_000,
          funcInfo: [1, 17],
        })
      ).toBe(true);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        refreshToken: 'r9',
        authorizedAt: T0 + 600_000,
        funcInfo: [1, 17],
      });
      await store.replaceRefreshToken(C, A, 'r9', 'r10', T0);
      expect(await store.getAuthorizer(C, A)).toMatchObject({
        authorizedAt: T0 + 600_000,
        funcInfo: [1, 17],
      });
    });

    it('pages through each partition in refreshAt order without returning future ones', async () => {
      for (let i = 0; i < 7; i++) {
        await store.saveAuthorization(
          authorization({ authorizerAppId: authorizerAppId(i), refreshAt: T0 + i }),
          T0
        );
      }
      const lists = await duePerPartition(store, T0 + 4, 2);
      for (const { items } of lists) {
        const times = items.map((a) => a.refreshAt as number);
        expect(times).toEqual([...times].sort((x, y) => x - y));
      }
      const due = lists
        .flatMap((p) => p.items)
        .sort((x, y) => (x.refreshAt as number) - (y.refreshAt as number));
      expect(appIds(due)).toEqual([0, 1, 2, 3, 4].map((i) => authorizerAppId(i)));
    });
  });

  describe('due index partitions', () => {
    const appId = (i: number) => `wx${i.toString(16).padStart(16, '0')}`;

    it('spreads due authorizers over the shards and lists every one exactly once', async () => {
      const partitions = store.duePartitions(C);
      expect(partitions).toHaveLength(DUE_INDEX_SHARDS + 1);
      expect(new Set(partitions.map((p) => p.id)).size).toBe(partitions.length);
      for (let i = 0; i < 48; i++) {
        await store.saveAuthorization(
          authorization({ authorizerAppId: appId(i), refreshAt: T0 + (i % 40) }),
          T0
        );
      }
      const lists = await duePerPartition(store, T0 + 29, 2);
      const due = lists.flatMap((p) => p.items);
      const expected = Array.from({ length: 48 }, (_, i) => i)
        .filter((i) => i % 40 <= 29)
        .map(appId);
      expect(appIds(due).sort()).toEqual(expected.sort());
      expect(new Set(appIds(due)).size).toBe(due.length);
      expect(lists.filter((p) => p.items.length > 0).length).toBeGreaterThanOrEqual(16);
      expect(Math.max(...lists.map((p) => p.items.length))).toBeLessThanOrEqual(6);
    });

    it('finds authorizers still on the legacy partition, and their next save moves them to their shard', async () => {
      const [renewed, reauthorized, revoked, failing] = [1, 2, 3, 4].map(appId) as [
        string,
        string,
        string,
        string,
      ];
      for (const [i, a] of [renewed, reauthorized, revoked, failing].entries()) {
        await store.saveAuthorization(authorization({ authorizerAppId: a, refreshAt: T0 + i }), T0);
        await subject.toLegacyPartition(a);
      }
      const before = (await duePerPartition(store, T0 + 10)).filter((p) => p.items.length > 0);
      expect(before).toHaveLength(1);
      const legacy = before[0]?.partition as DuePartition;
      expect(appIds(before[0]?.items ?? [])).toEqual([renewed, reauthorized, revoked, failing]);

      const ref = (a: string) =>
        ({ kind: 'authorizer', componentAppId: C, authorizerAppId: a }) as const;
      await store.claim(ref(renewed), 1, { owner: 'o', until: T0 + 30_000 }, T0);
      await store.saveAuthorizerToken(
        C,
        renewed,
        'o',
        { accessToken: 'a2', expiresAt: T0 + 9e6, refreshAt: T0 + 5, refreshToken: 'r2' },
        T0
      );
      await store.saveAuthorization(
        authorization({ authorizerAppId: reauthorized, refreshAt: T0 + 6, authorizedAt: T0 + 1 }),
        T0 + 1
      );
      await store.endAuthorization(C, revoked, 'revoked', { eventTime: T0 + 1 }, T0 + 1);
      await store.claim(ref(failing), 1, { owner: 'o', until: T0 + 30_000 }, T0);
      await store.release(ref(failing), 'o', { errorCode: 'x', retryAt: T0 + 7 }, T0);

      expect(appIds(await listPartition(store, legacy, T0 + 10, 10))).toEqual([failing]);
      const after = await duePerPartition(store, T0 + 10);
      expect(appIds(after.flatMap((p) => p.items)).sort()).toEqual(
        [renewed, reauthorized, failing].sort()
      );
      for (const moved of [renewed, reauthorized]) {
        const holding = after.filter((p) => appIds(p.items).includes(moved));
        expect(holding).toHaveLength(1);
        expect(holding[0]?.partition).not.toEqual(legacy);
      }
    });
  });

  describe('auth codes', () => {
    const fresh = {
      componentAppId: C,
      code: 'queryauthcode@@@abc',
      expiresAt: T0 + 600_000,
      source: 'redirect' as const,
      receivedAt: T0,
    };
    const ref = { kind: 'auth_code', componentAppId: C, code: fresh.code } as const;

    it('stores a code once and returns the existing record to the second writer', async () => {
      const first = await store.putAuthCode(fresh);
      expect(first).toEqual({
        created: true,
        record: { ...fresh, version: 0, status: 'pending', attempts: 0, nextAttemptAt: T0 },
      });
      const second = await store.putAuthCode({ ...fresh, source: 'push', authorizerAppId: A });
      expect(second.created).toBe(false);
      expect(second.record.source).toBe('redirect');
      expect(await store.listPendingAuthCodes(C, T0, 10)).toHaveLength(1);
    });

    it('a second arrival that knows the authorizer names it on a record stored without it, once', async () => {
      await store.putAuthCode(fresh);
      const named = await store.putAuthCode({ ...fresh, source: 'push', authorizerAppId: A });
      expect(named.record).toMatchObject({ source: 'redirect', authorizerAppId: A, version: 0 });
      await store.putAuthCode({ ...fresh, source: 'push', authorizerAppId: B });
      expect((await store.getAuthCode(C, fresh.code))?.authorizerAppId).toBe(A);
    });

    it('finishing as the lease holder takes the code off the pending list', async () => {
      await store.putAuthCode(fresh);
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await expect(store.claim(ref, 0, { owner: 'b', until: T0 + 30_000 }, T0)).rejects.toThrow(
        ConcurrentUpdateError
      );
      const done = await store.finishAuthCode(
        C,
        fresh.code,
        'a',
        { status: 'exchanged', authorizerAppId: A },
        T0 + 1
      );
      expect(done).toMatchObject({ status: 'exchanged', authorizerAppId: A, version: 1 });
      expect(done.nextAttemptAt).toBeUndefined();
      expect(await store.listPendingAuthCodes(C, T0 + 1e9, 10)).toEqual([]);
      await expect(
        store.finishAuthCode(C, fresh.code, 'b', { status: 'failed' }, T0)
      ).rejects.toThrow(ConcurrentUpdateError);
    });

    it('a finished code keeps the outcome code given, none when it is empty, and leaves the due index', async () => {
      await store.putAuthCode(fresh);
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.release(ref, 'a', { errorCode: 'wechat_busy', retryAt: T0 + 60_000 }, T0);
      await store.claim(ref, 0, { owner: 'b', until: T0 + 90_000 }, T0 + 60_000);
      const done = await store.finishAuthCode(
        C,
        fresh.code,
        'b',
        { status: 'failed', outcomeCode: '' },
        T0 + 60_001
      );
      const finished = {
        ...fresh,
        status: 'failed',
        attempts: 1,
        version: 1,
        updatedAt: T0 + 60_001,
      };
      expect(done).toEqual(finished);
      expect(await store.getAuthCode(C, fresh.code)).toEqual(finished);
      expect(await store.listPendingAuthCodes(C, T0 + 1e9, 10)).toEqual([]);

      const other = { ...fresh, code: 'queryauthcode@@@def' };
      await store.putAuthCode(other);
      await store.claim({ ...ref, code: other.code }, 0, { owner: 'c', until: T0 + 30_000 }, T0);
      const recovered = await store.finishAuthCode(
        C,
        other.code,
        'c',
        { status: 'exchanged', outcomeCode: 'recovered_by_reconciliation' },
        T0 + 1
      );
      expect(recovered).toEqual({
        ...other,
        status: 'exchanged',
        outcomeCode: 'recovered_by_reconciliation',
        attempts: 0,
        version: 1,
        updatedAt: T0 + 1,
      });
      expect(await store.listPendingAuthCodes(C, T0 + 1e9, 10)).toEqual([]);
    });

    it('a released code counts the attempt and waits for its retry time', async () => {
      await store.putAuthCode(fresh);
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.release(ref, 'a', { errorCode: 'wechat_busy', retryAt: T0 + 60_000 }, T0);
      expect(await store.listPendingAuthCodes(C, T0 + 59_999, 10)).toEqual([]);
      const [pending] = await store.listPendingAuthCodes(C, T0 + 60_000, 10);
      expect(pending).toMatchObject({ attempts: 1, outcomeCode: 'wechat_busy', version: 0 });
      expect(pending?.leaseOwner).toBeUndefined();
    });

    it('a release can mark the exchange uncertain, and a later release keeps the mark', async () => {
      await store.putAuthCode(fresh);
      await store.claim(ref, 0, { owner: 'a', until: T0 + 30_000 }, T0);
      await store.release(ref, 'a', { errorCode: 'wechat_unavailable', uncertainAt: T0 }, T0);
      await store.claim(ref, 0, { owner: 'b', until: T0 + 30_000 }, T0 + 1);
      await store.release(ref, 'b', { errorCode: 'other' }, T0 + 1);
      expect(await store.getAuthCode(C, fresh.code)).toMatchObject({
        uncertainAt: T0,
        outcomeCode: 'other',
        attempts: 2,
      });
    });
  });
  describe('budgets', () => {
    const minute = {
      componentAppId: C,
      name: 'authorize/minute',
      startsAt: T0,
      endsAt: T0 + 60_000,
    };

    it('counts up to the limit, then refuses', async () => {
      const counted = [];
      for (let i = 0; i < 4; i += 1) counted.push(await store.spendBudget(minute, 3));
      expect(counted).toEqual([true, true, true, false]);
    });

    it('keeps windows, names and platforms apart', async () => {
      expect(await store.spendBudget(minute, 1)).toBe(true);
      expect(await store.spendBudget(minute, 1)).toBe(false);
      expect(await store.spendBudget({ ...minute, startsAt: T0 + 60_000 }, 1)).toBe(true);
      expect(await store.spendBudget({ ...minute, name: 'authorize-callback/minute' }, 1)).toBe(
        true
      );
      expect(await store.spendBudget({ ...minute, componentAppId: OTHER_COMPONENT_APPID }, 1)).toBe(
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

  describe('outbox events', () => {
    const event = (id: string, publishAt: number, componentAppId = C) => ({
      componentAppId,
      id,
      type: 'authorized',
      detail: JSON.stringify({ id, type: 'authorized' }),
      createdAt: T0,
      publishAt,
    });

    it('records an event once: a second record of the same id changes nothing', async () => {
      expect(await store.putOutboxEvent(event('e1', T0))).toBe(true);
      expect(await store.putOutboxEvent({ ...event('e1', T0 + 5), detail: '{}' })).toBe(false);
      expect(await store.listDueOutboxEvents(C, T0, 10)).toEqual([
        { ...event('e1', T0), attempts: 0 },
      ]);
    });

    it('lists unpublished events once due, oldest first, per platform, up to the limit', async () => {
      await store.putOutboxEvent(event('late', T0 + 60_000));
      await store.putOutboxEvent(event('second', T0 - 1_000));
      await store.putOutboxEvent(event('first', T0 - 2_000));
      await store.putOutboxEvent(event('other', T0 - 3_000, OTHER_COMPONENT_APPID));
      const ids = async (now: number, limit = 10) =>
        (await store.listDueOutboxEvents(C, now, limit)).map((e) => e.id);
      expect(await ids(T0)).toEqual(['first', 'second']);
      expect(await ids(T0, 1)).toEqual(['first']);
      expect(await ids(T0 + 60_000)).toEqual(['first', 'second', 'late']);
    });

    it('takes a published event off the due list for good, even for a later record of its id', async () => {
      await store.putOutboxEvent(event('e1', T0));
      await store.markOutboxEventPublished(C, 'e1', T0 + 1);
      expect(await store.listDueOutboxEvents(C, T0 + 3_600_000, 10)).toEqual([]);
      expect(await store.putOutboxEvent(event('e1', T0 + 2))).toBe(false);
      await store.deferOutboxEvent(C, 'e1', { retryAt: T0 + 3, error: 'InternalFailure' });
      expect(await store.listDueOutboxEvents(C, T0 + 3_600_000, 10)).toEqual([]);
      await store.markOutboxEventPublished(C, 'unknown', T0);
    });

    it('a deferred event counts the attempt and waits for its retry time', async () => {
      await store.putOutboxEvent(event('e1', T0));
      await store.deferOutboxEvent(C, 'e1', {
        retryAt: T0 + 60_000,
        error: 'ThrottlingException',
      });
      expect(await store.listDueOutboxEvents(C, T0, 10)).toEqual([]);
      expect(await store.listDueOutboxEvents(C, T0 + 60_000, 10)).toEqual([
        {
          ...event('e1', T0 + 60_000),
          attempts: 1,
          lastError: 'ThrottlingException',
        },
      ]);
    });
  });

  describe('operator listing', () => {
    /** Every page of the listing, with the size of each. */
    async function listAll(limit: number, status?: AuthorizerStatus) {
      const items: AuthorizerSummary[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listAuthorizers(C, {
          limit,
          ...(status ? { status } : {}),
          ...(cursor ? { cursor } : {}),
        });
        items.push(...page.items);
        sizes.push(page.items.length);
        cursor = page.cursor;
      } while (cursor);
      return { items, sizes };
    }

    /** Seven authorizers in every state, and items of every other kind around them. */
    async function seed() {
      const ids = Array.from({ length: 7 }, (_, i) => authorizerAppId(10 + i));
      for (const id of ids)
        await store.saveAuthorization(authorization({ authorizerAppId: id }), T0);
      await store.endAuthorization(C, ids[1]!, 'revoked', { eventTime: T0 + 1 }, T0 + 1);
      await store.endAuthorization(C, ids[2]!, 'needs_reauthorization', { eventTime: T0 + 1 }, T0);
      await store.saveAuthorization(
        authorization({
          authorizerAppId: ids[3]!,
          refreshToken: undefined,
          accessToken: undefined,
        }),
        T0
      );
      const leased = { kind: 'authorizer', componentAppId: C, authorizerAppId: ids[4]! } as const;
      await store.claim(leased, 1, { owner: 'lease-owner-1', until: T0 + 30_000 }, T0);
      await store.release(leased, 'lease-owner-1', { errorCode: 'wechat_busy' }, T0);
      // Another platform whose appid extends ours, and items that are not authorizers.
      await store.saveAuthorization(
        authorization({ componentAppId: `${C}1`, authorizerAppId: B }),
        T0
      );
      await store.putTicket({ componentAppId: C, ticket: 't', createTime: T0, receivedAt: T0 });
      await store.putAuthCode({
        componentAppId: C,
        code: 'code-1',
        expiresAt: T0 + 600_000,
        source: 'push',
        receivedAt: T0,
      });
      await store.putRunRecord({
        componentAppId: C,
        job: 'refresh',
        finishedAt: T0,
        summary: '{}',
      });
      return ids;
    }

    it('lists every authorizer of the platform exactly once over short pages, and nothing else', async () => {
      const ids = await seed();
      const { items, sizes } = await listAll(2);
      expect(appIds(items as AuthorizerRecord[]).sort()).toEqual(ids);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
      expect(sizes.length).toBeGreaterThanOrEqual(4);
      expect((await listAll(100)).items).toHaveLength(7);
    });

    it('filters by state over pages', async () => {
      const ids = await seed();
      const state = async (status: AuthorizerStatus) =>
        appIds((await listAll(1, status)).items as AuthorizerRecord[]).sort();
      expect(await state('active')).toEqual([ids[0], ids[4], ids[5], ids[6]]);
      expect(await state('revoked')).toEqual([ids[1]]);
      expect(await state('needs_reauthorization')).toEqual([ids[2]]);
      expect(await state('without_api_permission')).toEqual([ids[3]]);
    });

    it('reads every field but the tokens and the lease owner', async () => {
      const ids = await seed();
      const { items } = await listAll(10);
      const failing = items.find((a) => a.authorizerAppId === ids[4]);
      expect(failing).toEqual({
        componentAppId: C,
        authorizerAppId: ids[4],
        status: 'active',
        funcInfo: [1, 2],
        expiresAt: T0 + 7_200_000,
        refreshAt: T0 + 6_300_000,
        issuedAt: T0,
        requestedAt: T0,
        authorizedAt: T0,
        lastErrorCode: 'wechat_busy',
        version: 1,
        updatedAt: T0,
      });
      for (const item of items) {
        expect(item).not.toHaveProperty('accessToken');
        expect(item).not.toHaveProperty('refreshToken');
        expect(item).not.toHaveProperty('leaseOwner');
      }
    });

    it('refuses a cursor it did not issue', async () => {
      await expect(store.listAuthorizers(C, { limit: 5, cursor: 'not a cursor!' })).rejects.toThrow(
        InvalidRequestError
      );
    });
  });

  describe('run records', () => {
    const run = (finishedAt: number, job: 'refresh' | 'reconcile' = 'refresh') => ({
      componentAppId: C,
      job,
      finishedAt,
      summary: JSON.stringify({ finishedAt }),
    });

    it('keeps the run that finished last, per job and platform', async () => {
      expect(await store.getRunRecord(C, 'refresh')).toBeUndefined();
      expect(await store.putRunRecord(run(T0))).toBe(true);
      expect(await store.putRunRecord(run(T0 + 5))).toBe(true);
      expect(await store.putRunRecord(run(T0 + 1))).toBe(false);
      expect(await store.putRunRecord(run(T0 - 5, 'reconcile'))).toBe(true);
      expect(await store.getRunRecord(C, 'refresh')).toEqual(run(T0 + 5));
      expect(await store.getRunRecord(C, 'reconcile')).toEqual(run(T0 - 5, 'reconcile'));
      expect(await store.getRunRecord(`${C}1`, 'refresh')).toBeUndefined();
    });
  });
});
