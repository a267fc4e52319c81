import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../../shared/errors';
import { type DueFeed, dueAuthorizerFeed } from '../../../../shared/jobs/due-authorizer-feed';
import { authorizerDueKey, dueShard } from '../../../../shared/store/table-schema';
import type { AuthorizerRecord, DuePartition } from '../../../../shared/store/token-store';
import { MemoryTokenStore } from '../../../support/memory-token-store';
import { COMPONENT_APPID as C, T0 } from '../../../support/test-ids';

const appId = (i: number) => `wx${i.toString(16).padStart(16, '0')}`;

async function storeWith(appIds: string[], refreshAt: (i: number) => number) {
  const store = new MemoryTokenStore();
  for (const [i, authorizerAppId] of appIds.entries()) {
    await store.saveAuthorization(
      {
        componentAppId: C,
        authorizerAppId,
        accessToken: 'a',
        expiresAt: T0 + 1e7,
        refreshToken: 'r',
        funcInfo: [1],
        refreshAt: refreshAt(i),
        authorizedAt: T0 - 1,
      },
      T0 - 1
    );
  }
  return store;
}

type Hook = (partition: DuePartition, cursor: string | undefined) => Promise<void> | void;

/** The store as the feed sees it, counting Queries, items read and Queries in flight; `hook` runs first. */
function observed(store: MemoryTokenStore, hook: Hook = () => {}) {
  const stats = { queries: 0, itemsRead: 0, inFlight: 0, peakInFlight: 0 };
  return {
    stats,
    duePartitions: (componentAppId: string) => store.duePartitions(componentAppId),
    async listDueAuthorizers(partition: DuePartition, now: number, limit: number, cursor?: string) {
      stats.queries += 1;
      stats.peakInFlight = Math.max(stats.peakInFlight, ++stats.inFlight);
      try {
        await hook(partition, cursor);
        await new Promise((resolve) => setTimeout(resolve, 1));
        const page = await store.listDueAuthorizers(partition, now, limit, cursor);
        stats.itemsRead += page.items.length;
        return page;
      } finally {
        stats.inFlight -= 1;
      }
    },
  };
}

async function drain(feed: DueFeed): Promise<AuthorizerRecord[]> {
  const items: AuthorizerRecord[] = [];
  for (;;) {
    const item = await feed.next();
    if (!item) return items;
    items.push(item);
  }
}

const ids = (items: AuthorizerRecord[]) => items.map((a) => a.authorizerAppId);
/** `count` appids that all fall in the same shard as `appId(0)`, then `others` appids from anywhere. */
function clustered(count: number, others: number): string[] {
  const shard = dueShard(appId(0));
  const same: string[] = [];
  const rest: string[] = [];
  for (let i = 0; same.length < count || rest.length < others; i++) {
    if (dueShard(appId(i)) === shard) {
      if (same.length < count) same.push(appId(i));
    } else if (rest.length < others) rest.push(appId(i));
  }
  return [...same, ...rest];
}

describe('dueAuthorizerFeed', () => {
  it('hands out every due authorizer of every partition once, most overdue first, reading each once', async () => {
    const appIds = Array.from({ length: 120 }, (_, i) => appId(i));
    const store = await storeWith(appIds, (i) => (i < 100 ? T0 - 1000 + i : T0 + 1000));
    for (const i of [7, 8, 9]) store.legacyDue.add(`${C}#${appId(i)}`);
    const source = observed(store);
    const feed = dueAuthorizerFeed(source, C, T0, {
      lowWater: 4,
      pageSize: 3,
      queryConcurrency: 4,
    });

    const items = await drain(feed);

    expect(ids(items).sort()).toEqual(appIds.slice(0, 100).sort());
    expect(new Set(ids(items)).size).toBe(items.length);
    expect(items[0]?.authorizerAppId).toBe(appId(0));
    expect(source.stats.itemsRead).toBe(100);
    expect(source.stats.peakInFlight).toBe(4);
    expect(feed.drained()).toBe(true);
  });

  it('keeps handing out the other partitions while one partition’s Query hangs', async () => {
    const appIds = clustered(8, 200);
    const store = await storeWith(appIds, (i) => T0 - 1000 + i);
    const slow = authorizerDueKey(C, appIds[0] as string);
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slowPending = false;
    const source = observed(store, async (partition, cursor) => {
      if (partition.id !== slow || !cursor) return;
      slowPending = true;
      await gate;
      slowPending = false;
    });
    const feed = dueAuthorizerFeed(source, C, T0, { lowWater: 4, pageSize: 2 });

    const before: AuthorizerRecord[] = [];
    for (let k = 0; k < 200 + 2; k++) before.push((await feed.next()) as AuthorizerRecord);
    expect(slowPending).toBe(true);
    expect(ids(before)).toEqual(expect.arrayContaining(appIds.slice(8)));
    release();
    const after = await drain(feed);

    expect([...ids(before), ...ids(after)].sort()).toEqual([...appIds].sort());
  }, 10_000);

  it('fails before handing anything out when a partition’s first page cannot be read, and stays failed', async () => {
    const store = await storeWith(
      Array.from({ length: 50 }, (_, i) => appId(i)),
      () => T0 - 1
    );
    const broken = store.duePartitions(C)[5]?.id;
    const source = observed(store, (partition) => {
      if (partition.id === broken) throw new StoreUnavailableError('throttled');
    });
    const feed = dueAuthorizerFeed(source, C, T0, { lowWater: 4 });

    await expect(feed.next()).rejects.toThrow('throttled');
    const queries = source.stats.queries;
    await expect(feed.next()).rejects.toThrow('throttled');
    expect(source.stats.queries).toBe(queries);
    expect(feed.drained()).toBe(false);
  });

  it('retries a failed read-ahead once the queue runs dry, and throws when it fails again', async () => {
    const appIds = clustered(6, 10);
    const store = await storeWith(appIds, (i) => T0 - 1000 + i);
    const flaky = authorizerDueKey(C, appIds[0] as string);
    for (const failures of [1, 2]) {
      let left = failures;
      const source = observed(store, (partition, cursor) => {
        if (partition.id === flaky && cursor && left-- > 0) throw new StoreUnavailableError('busy');
      });
      const feed = dueAuthorizerFeed(source, C, T0, { lowWater: 4, pageSize: 2 });
      if (failures === 1) {
        expect(ids(await drain(feed)).sort()).toEqual([...appIds].sort());
      } else {
        await expect(drain(feed)).rejects.toThrow('busy');
        await expect(feed.next()).rejects.toThrow('busy');
      }
    }
  });
});
