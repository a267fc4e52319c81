import { SWEEP_PAGE_SIZE, SWEEP_QUERY_CONCURRENCY } from '../policy';
import type {
  AuthorizerRecord,
  AuthorizerTicketRecord,
  DuePartition,
  Page,
  TokenStore,
} from '../store/token-store';

/** A record listed from the `due` index: sorted by `refreshAt`. */
type DueRecord = { refreshAt?: number };

/** The due records (authorizers, or tickets) of one sweep, handed out one at a time to its workers. */
export interface DueFeed<T extends DueRecord = AuthorizerRecord> {
  /** The next due record, or undefined once every partition is read and handed out. */
  next(): Promise<T | undefined>;
  /** True once every partition was read to its end and every item handed out. */
  drained(): boolean;
}

interface PartitionReader {
  readonly partition: DuePartition;
  cursor?: string;
  done: boolean;
  /** `refreshAt` of the last item read: the least advanced partitions are read first. */
  frontier: number;
  reading?: Promise<void>;
  /** The last read's error, kept until a read succeeds; `failures` counts them in a row. */
  error?: unknown;
  failures: number;
}

const refreshAtOf = (a: DueRecord) => a.refreshAt ?? 0;

/** Merges two lists sorted by `refreshAt` into one. */
function mergeByRefreshAt<T extends DueRecord>(a: T[], b: T[]): T[] {
  if (a.length === 0) return b;
  const merged: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    merged.push(refreshAtOf(a[i] as T) <= refreshAtOf(b[j] as T) ? (a[i++] as T) : (b[j++] as T));
  }
  return merged.concat(a.slice(i), b.slice(j));
}

/** The options of a due feed: read ahead below `lowWater` queued items, `pageSize` per Query. */
export interface DueFeedOptions {
  lowWater: number;
  pageSize?: number;
  queryConcurrency?: number;
}

/**
 * The authorizers due at `now`, read from every partition of the `due` index (`duePartitions`) and handed
 * out most overdue first (pages are merged by `refreshAt`), for a sweep with bounded concurrency:
 *
 * - the first `next()` reads the first page of every partition, at most `queryConcurrency` Queries at a
 *   time, and throws if any of them fails: a run that cannot see the whole index renews nothing;
 * - then, whenever fewer than `lowWater` items are queued, it reads ahead the next page of up to
 *   `queryConcurrency` partitions at once, least advanced first, so the workers never wait on one Query;
 * - a failed read-ahead is retried when the queue runs dry, and thrown if it fails again. Once thrown, every
 *   later `next()` throws the same error.
 *
 * Items read per due authorizer stay about one: a Query returns only due items, and the feed reads ahead
 * at most `queryConcurrency` pages.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html
 */
export function dueAuthorizerFeed(
  store: Pick<TokenStore, 'duePartitions' | 'listDueAuthorizers'>,
  componentAppId: string,
  now: number,
  options: DueFeedOptions
): DueFeed {
  return dueFeed(
    store.duePartitions(componentAppId),
    (partition, limit, cursor) => store.listDueAuthorizers(partition, now, limit, cursor),
    options
  );
}

/** The authorizers' `getticket` tickets due at `now`, read and handed out as `dueAuthorizerFeed` does. */
export function dueTicketFeed(
  store: Pick<TokenStore, 'ticketDuePartitions' | 'listDueTickets'>,
  componentAppId: string,
  now: number,
  options: DueFeedOptions
): DueFeed<AuthorizerTicketRecord> {
  return dueFeed(
    store.ticketDuePartitions(componentAppId),
    (partition, limit, cursor) => store.listDueTickets(partition, now, limit, cursor),
    options
  );
}

/** The feed over any record kind's `due` partitions (see `dueAuthorizerFeed`). */
function dueFeed<T extends DueRecord>(
  partitions: DuePartition[],
  list: (partition: DuePartition, limit: number, cursor?: string) => Promise<Page<T>>,
  options: DueFeedOptions
): DueFeed<T> {
  const pageSize = options.pageSize ?? SWEEP_PAGE_SIZE;
  const queryConcurrency = Math.max(1, options.queryConcurrency ?? SWEEP_QUERY_CONCURRENCY);
  const readers: PartitionReader[] = partitions.map((partition) => ({
    partition,
    done: false,
    frontier: Number.NEGATIVE_INFINITY,
    failures: 0,
  }));
  let queue: T[] = [];
  let opened: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;

  const read = (r: PartitionReader): Promise<void> => {
    r.reading ??= (async () => {
      try {
        const page = await list(r.partition, pageSize, r.cursor);
        r.cursor = page.cursor;
        r.done = !page.cursor;
        r.error = undefined;
        r.failures = 0;
        const last = page.items.at(-1);
        if (last) r.frontier = refreshAtOf(last);
        queue = mergeByRefreshAt(queue, page.items);
      } catch (error) {
        r.error = error;
        r.failures += 1;
      } finally {
        r.reading = undefined;
      }
    })();
    return r.reading;
  };
  const readingCount = () => readers.filter((r) => r.reading).length;

  const readAhead = () => {
    const idle = readers
      .filter((r) => !r.done && !r.reading && r.error === undefined)
      .sort((x, y) => x.frontier - y.frontier);
    const slots = queryConcurrency - readingCount();
    for (const r of idle.slice(0, Math.max(0, slots))) void read(r);
  };

  const open = async () => {
    let next = 0;
    const lane = async () => {
      while (next < readers.length) {
        const r = readers[next++] as PartitionReader;
        await read(r);
        if (r.error !== undefined) {
          next = readers.length;
          throw r.error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(queryConcurrency, readers.length) }, lane));
  };

  const take = async (): Promise<T | undefined> => {
    opened ??= open();
    await opened;
    for (;;) {
      const item = queue.shift();
      if (item) {
        if (queue.length < options.lowWater) readAhead();
        return item;
      }
      if (readers.every((r) => r.done)) return undefined;
      const failed = readers.find((r) => r.error !== undefined);
      if (failed && failed.failures > 1) throw failed.error;
      if (failed) await read(failed);
      else {
        readAhead();
        await Promise.race(readers.flatMap((r) => (r.reading ? [r.reading] : [])));
      }
    }
  };

  return {
    async next() {
      if (failure) throw failure.error;
      try {
        return await take();
      } catch (error) {
        failure ??= { error };
        throw failure.error;
      }
    },
    drained: () => queue.length === 0 && readers.every((r) => r.done),
  };
}
