import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type ApiName, ApiPath } from '../../shared/wechat/wire';

/**
 * The simulation's hand on the service's network: every WeChat call the service makes (its `fetch`) and
 * every DynamoDB request (its document client) passes through here. Outside interleaved steps it only
 * watches: who made a call (the actor running it, through `AsyncLocalStorage`), what a report's check was
 * answered, and whether work is still in flight. During an interleaved step (an `Episode`) it also holds
 * each WeChat request and answer, and each read and write of the merchant's items, for a seeded delay, so
 * that the actors running at once for one merchant interleave in an order drawn from the seed, and it
 * records which actors' operations on that merchant overlapped.
 *
 * A delay is drawn from the episode's seed and the operation's identity (its actor, its API or table
 * operation, and how many of those that actor made before it), not from the order in which operations
 * happen to arrive: a replay of a seed draws the same delays for the same operations. What the actors then
 * do still depends on real time (DynamoDB's and HTTP's latency are not ours to fix), so delays come in slots
 * coarser than that latency and a replay usually meets the same order; a race decided by less than a slot
 * can go the other way, so a failure found in an interleaved step may take a few replays of its seed.
 */

/** Who does something for a merchant during an interleaved step. */
export type ActorKind =
  | 'sweep'
  | 'inline'
  | 'report'
  | 'false-report'
  | 'operator'
  | 'callback'
  | 'push'
  | 'reconcile'
  | 'revoke';

export const ACTOR_KINDS: readonly ActorKind[] = [
  'sweep',
  'inline',
  'report',
  'false-report',
  'operator',
  'callback',
  'push',
  'reconcile',
  'revoke',
];

/** One actor at work (the `AsyncLocalStorage` value of everything it runs). */
export interface Actor {
  kind: ActorKind;
  /** Unique per run: two actors of one kind in one step are two actors. */
  id: number;
  /** Authorizer records this actor wrote (`onFirstRecordWrite` is told of the first write of each). */
  wrote?: Set<string>;
}

/** What the conductor tells the simulation about the service's work as it happens. */
export interface ConductorHooks {
  /**
   * A renewal (`api_authorizer_token`) of `appId` is about to reach WeChat, made under `actor`. A promise
   * returned holds the request until it settles (a short while at most).
   */
  onRenewalRequest?(actor: Actor | undefined, appId: string): Promise<void> | undefined;
  /**
   * `actor` wrote an authorizer's record (`AUTHORIZER#<component>#<appid>`) for the first time: for a
   * renewal, the lease claim (architecture §3: read, then claim).
   */
  onFirstRecordWrite?(actor: Actor, pk: string): void;
  /** A getApiQuota call made with `token` under `actor` was answered (or not: `inconclusive`). */
  onCheckAnswered?(actor: Actor, token: string, inconclusive: boolean): void;
}

/** How long a held renewal request waits for what `onRenewalRequest` returned. */
const RENEWAL_HOLD_LIMIT_MS = 300;
/** DynamoDB commands that only read. */
const READS = new Set(['GetCommand', 'QueryCommand', 'ScanCommand', 'BatchGetCommand']);

/** Delay slots (ms): WeChat requests and answers, DynamoDB requests, actor starts. */
const WECHAT_SLOT_MS = 8;
const WECHAT_SLOTS = 5;
const DYNAMO_SLOT_MS = 3;
const DYNAMO_SLOTS = 3;
const START_SLOT_MS = 10;
const START_SLOTS = 6;
/** How long `settle` waits for abandoned work (a get-token answered, its renewal still running). */
const SETTLE_LIMIT_MS = 8_000;
/** getApiQuota answers that prove a token dead, or alive: anything else proves nothing. */
const TOKEN_DEAD_ERRCODES = new Set([40001, 42001, 40014]);
const INCONCLUSIVE_ERRCODES = new Set([-1, 61004]);

const API_BY_PATH = new Map<string, ApiName>(
  Object.entries(ApiPath).map(([api, path]) => [path, api as ApiName])
);

/** FNV-1a over `text`, mixed with `seed`: a stable 32-bit draw per operation identity. */
function draw(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return h >>> 0;
}

function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Real-time span of one actor's operations on the episode's merchant. */
interface Span {
  kind: ActorKind;
  first: number;
  last: number;
  operations: number;
}

/** One interleaved step for one merchant: its seed, what identifies the merchant's data, the spans. */
export class Episode {
  readonly #counts = new Map<string, number>();
  readonly spans = new Map<number, Span>();
  /** The merchant's token-minting calls now at WeChat (`api_authorizer_token`, `api_query_auth`). */
  readonly #mints = new Map<number, string>();
  /** The first minting call made while another was in flight (architecture §3: one writer at a time). */
  mintedAlongside: string | undefined;

  constructor(
    readonly seed: number,
    readonly appId: string,
    /** `AUTHORIZER#…` of the merchant, and `AUTHCODE#…` of the step's code when there is one. */
    readonly keys: ReadonlySet<string>,
    /** The merchant's access tokens (getApiQuota calls made with one of them are about it). */
    readonly isMerchantToken: (token: string) => boolean,
    readonly code: string | undefined
  ) {}

  /** The delay of the next operation with this identity, in slots of `slotMs`. */
  delay(identity: string, slots: number, slotMs: number): number {
    const n = (this.#counts.get(identity) ?? 0) + 1;
    this.#counts.set(identity, n);
    return (draw(this.seed, `${identity}#${n}`) % slots) * slotMs;
  }

  /**
   * An actor's seeded start delay (ms). The schedule's runs (sweep, reconciliation) start within the first
   * slots: they read a page of the table or WeChat's list before they reach any one merchant.
   */
  startDelay(kind: ActorKind, index: number): number {
    const slots = kind === 'sweep' || kind === 'reconcile' ? 2 : START_SLOTS;
    return (draw(this.seed, `start|${kind}|${index}`) % slots) * START_SLOT_MS;
  }

  /**
   * A call that mints the merchant's token begins (`id` unique per call); returns what ends it. A writer
   * mints only under the merchant's lease, so a second call while one is in flight is two writers.
   */
  mintBegins(id: number, who: string): () => void {
    if (this.#mints.size > 0 && this.mintedAlongside === undefined) {
      this.mintedAlongside = `${who} while ${[...this.#mints.values()].join(', ')} was in flight`;
    }
    this.#mints.set(id, who);
    return () => this.#mints.delete(id);
  }

  touch(actor: Actor | undefined, start: number, end: number) {
    if (!actor) return;
    const span = this.spans.get(actor.id);
    if (!span) {
      this.spans.set(actor.id, { kind: actor.kind, first: start, last: end, operations: 1 });
      return;
    }
    span.first = Math.min(span.first, start);
    span.last = Math.max(span.last, end);
    span.operations += 1;
  }

  /** Pairs of actor kinds whose operations on the merchant overlapped in time (`a+b`, sorted). */
  overlappingPairs(): string[] {
    const spans = [...this.spans.values()];
    const pairs = new Set<string>();
    for (let i = 0; i < spans.length; i++) {
      for (let j = i + 1; j < spans.length; j++) {
        const [a, b] = [spans[i] as Span, spans[j] as Span];
        if (a.kind === b.kind) continue;
        if (a.first <= b.last && b.first <= a.last) pairs.add(pairKey(a.kind, b.kind));
      }
    }
    return [...pairs].sort();
  }
}

export const pairKey = (a: ActorKind, b: ActorKind) =>
  ACTOR_KINDS.indexOf(a) < ACTOR_KINDS.indexOf(b) ? `${a}+${b}` : `${b}+${a}`;

interface DynamoCommand {
  input?: { Key?: { pk?: unknown }; Item?: { pk?: unknown } };
  constructor: { name: string };
}

/** See the module comment. */
export class Conductor {
  readonly actors = new AsyncLocalStorage<Actor>();
  #episode: Episode | undefined;
  #nextActor = 1;
  #nextCall = 1;
  /** WeChat calls, DynamoDB requests and service sleeps in flight (for `settle`). */
  #inflight = 0;
  #idle: (() => void)[] = [];
  /** Authorizers whose next 61023 recovery reads a malformed list, and the actors now recovering. */
  readonly #malformedRecovery = new Set<string>();
  readonly #recovering = new Set<number | undefined>();
  /** List reads of the schedule's sweep still to answer malformed. */
  #malformedSweepLists = 0;

  constructor(
    private readonly realFetch: typeof fetch,
    private readonly hooks: ConductorHooks = {},
    /** The authorizers WeChat lists now (for the size of a malformed list answer). */
    private readonly listed: () => Iterable<unknown> = () => []
  ) {}

  get episode(): Episode | undefined {
    return this.#episode;
  }

  /** Runs `fn` as a new actor of `kind` (everything it calls, the service included, carries it). */
  as<T>(kind: ActorKind, fn: (actor: Actor) => Promise<T>): Promise<T> {
    const actor: Actor = { kind, id: this.#nextActor++ };
    return this.actors.run(actor, () => fn(actor));
  }

  /**
   * The next time `appId`'s refresh token is refused (61023), the list the service then reads to recover it
   * answers malformed (errcode 0, `total_count` but no `list`: protocol §11.7), once: a fault aimed at that
   * recovery, which a fault queued at WeChat would rarely reach (any list read takes it first).
   */
  malformedListAfter61023(appId: string): void {
    this.#malformedRecovery.add(appId);
  }

  /**
   * The next list read made by the schedule's sweep (a code's outcome recovered from the list, a 61023
   * recovery) answers malformed, once.
   */
  malformedListInSweep(): void {
    this.#malformedSweepLists += 1;
  }

  /** The actor running the current code, if any. */
  current(): Actor | undefined {
    return this.actors.getStore();
  }

  /**
   * Runs `actors` at once for `episode` (each after its seeded start delay) and returns the pairs of actor
   * kinds whose operations on the merchant overlapped. Every actor runs to its end, also when another fails;
   * the first failure is then thrown.
   */
  async interleave(
    episode: Episode,
    actors: readonly { kind: ActorKind; run: (actor: Actor) => Promise<unknown> }[]
  ): Promise<string[]> {
    this.#episode = episode;
    try {
      const results = await Promise.allSettled(
        actors.map(({ kind, run }, index) =>
          this.as(kind, async (actor) => {
            await sleep(episode.startDelay(kind, index));
            return run(actor);
          })
        )
      );
      await this.settle();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return episode.overlappingPairs();
    } finally {
      this.#episode = undefined;
    }
  }

  /**
   * Resolves once nothing the service started is in flight: no WeChat call, no DynamoDB request, no lease
   * wait. get-token answers by its deadline and leaves a slow renewal running, as a Lambda would until it is
   * frozen; the invariants read the store only after such work ended. Gives up after `SETTLE_LIMIT_MS`.
   */
  async settle(): Promise<void> {
    const giveUpAt = performance.now() + SETTLE_LIMIT_MS;
    for (;;) {
      if (this.#inflight > 0) {
        const left = giveUpAt - performance.now();
        if (left <= 0) return;
        await Promise.race([new Promise<void>((resolve) => this.#idle.push(resolve)), sleep(left)]);
        continue;
      }
      // Work that just ended may start its next request after a turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#inflight === 0) return;
    }
  }

  async #tracked<T>(work: () => Promise<T>): Promise<T> {
    this.#inflight += 1;
    try {
      return await work();
    } finally {
      this.#inflight -= 1;
      if (this.#inflight === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** The service's sleep (lease polls, retry pauses), tracked for `settle`. */
  sleep = (ms: number): Promise<void> => this.#tracked(() => sleep(ms));

  /** The service's `fetch` for its WeChat calls. */
  fetch: typeof fetch = (input, init) =>
    this.#tracked(async () => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const api = API_BY_PATH.get(url.pathname);
      const actor = this.current();
      const body = parseBody(init?.body);
      const appId = typeof body?.authorizer_appid === 'string' ? body.authorizer_appid : undefined;
      if (api === 'api_authorizer_token' && appId) {
        const hold = this.hooks.onRenewalRequest?.(actor, appId);
        if (hold) await Promise.race([hold.catch(() => undefined), sleep(RENEWAL_HOLD_LIMIT_MS)]);
      }
      if (api === 'api_get_authorizer_list') {
        const inSweep = actor?.kind === 'sweep' && this.#malformedSweepLists > 0;
        if (inSweep) this.#malformedSweepLists -= 1;
        if (inSweep || this.#recovering.delete(actor?.id)) {
          // What the simulator's 'malformed' fault answers: errcode 0, the count, no list.
          return Response.json({
            errcode: 0,
            errmsg: 'ok',
            total_count: [...this.listed()].length,
          });
        }
      }
      const token = api === 'getApiQuota' ? url.searchParams.get('access_token') : null;
      const checked = (inconclusive: boolean) => {
        if (actor && token) this.hooks.onCheckAnswered?.(actor, token, inconclusive);
      };
      const episode = this.#episode;
      const about = episode && api ? this.#aboutMerchant(episode, api, url, body) : false;
      const identity = `${actor?.kind ?? 'service'}|${api ?? url.pathname}`;
      const started = performance.now();
      const mints = about && (api === 'api_authorizer_token' || api === 'api_query_auth');
      const minted = mints && episode ? episode.mintBegins(this.#nextCall++, identity) : undefined;
      try {
        let response: Response;
        try {
          if (episode) {
            const delay = episode.delay(`${identity}|request`, WECHAT_SLOTS, WECHAT_SLOT_MS);
            await sleep(delay, init?.signal);
          }
          response = await this.realFetch(input, init);
        } catch (error) {
          checked(true);
          if (episode && about) episode.touch(actor, started, performance.now());
          throw error;
        }
        const armed = api === 'api_authorizer_token' && appId && this.#malformedRecovery.has(appId);
        if (!episode && !token && !armed) return response;
        const text = await response.text();
        checked(inconclusive(response.status, text));
        if (api === 'api_authorizer_token' && appId && this.#malformedRecovery.has(appId)) {
          if (/"errcode":\s*61023\b/.test(text)) {
            this.#malformedRecovery.delete(appId);
            this.#recovering.add(actor?.id);
          }
        }
        if (episode) {
          await sleep(
            episode.delay(`${identity}|answer`, WECHAT_SLOTS, WECHAT_SLOT_MS),
            init?.signal
          );
          if (about) episode.touch(actor, started, performance.now());
        }
        return new Response(text, { status: response.status, headers: response.headers });
      } finally {
        minted?.();
      }
    });

  #aboutMerchant(
    episode: Episode,
    api: ApiName,
    url: URL,
    body: Record<string, unknown> | undefined
  ): boolean {
    if (body?.authorizer_appid === episode.appId) return true;
    if (episode.code !== undefined && body?.authorization_code === episode.code) return true;
    if (api !== 'getApiQuota') return false;
    const token = url.searchParams.get('access_token');
    return token !== null && episode.isMerchantToken(token);
  }

  /** The service's DynamoDB document client, its requests watched (and delayed during an episode). */
  wrapDynamo(doc: DynamoDBDocumentClient): DynamoDBDocumentClient {
    const send = doc.send.bind(doc) as (command: unknown, ...rest: unknown[]) => Promise<unknown>;
    const wrapped = (command: DynamoCommand, ...rest: unknown[]) =>
      this.#tracked(async () => {
        const episode = this.#episode;
        const actor = this.current();
        const pk = command.input?.Key?.pk ?? command.input?.Item?.pk;
        const name = command.constructor.name;
        const about = episode !== undefined && typeof pk === 'string' && episode.keys.has(pk);
        const started = performance.now();
        // Only the merchant's items wait: the rest (the sweep's index pages, tickets) is not what interleaves.
        if (episode && about) {
          const identity = `${actor?.kind ?? 'service'}|${name}`;
          await sleep(episode.delay(identity, DYNAMO_SLOTS, DYNAMO_SLOT_MS));
        }
        try {
          const result = await send(command, ...rest);
          const first =
            actor && typeof pk === 'string' && !READS.has(name) && !actor.wrote?.has(pk);
          if (first && pk.startsWith('AUTHORIZER#')) {
            actor.wrote ??= new Set();
            actor.wrote.add(pk);
            this.hooks.onFirstRecordWrite?.(actor, pk);
          }
          return result;
        } finally {
          if (about) episode.touch(actor, started, performance.now());
        }
      });
    return new Proxy(doc, {
      get: (target, property, receiver) =>
        property === 'send' ? wrapped : Reflect.get(target, property, receiver),
    });
  }
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const value: unknown = JSON.parse(body);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a getApiQuota answer proves nothing about the token it was made with, as the service reads it
 * (`shared/serving/check-reported-token.ts`): no JSON object, -1 or a whitelist refusal, or errcode 0
 * without a well-formed quota.
 */
function inconclusive(status: number, text: string): boolean {
  let body: { errcode?: unknown; quota?: Record<string, unknown> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return true;
  }
  if (!body || typeof body !== 'object') return true;
  const errcode = body.errcode ?? 0;
  if (typeof errcode !== 'number') return true;
  if (TOKEN_DEAD_ERRCODES.has(errcode)) return false;
  if (INCONCLUSIVE_ERRCODES.has(errcode)) return true;
  if (errcode !== 0) return false;
  const quota = body.quota;
  const counts = ['daily_limit', 'used', 'remain'].every(
    (field) => typeof quota?.[field] === 'number'
  );
  return status >= 400 || !counts;
}
