import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { makeHandler as makeGetToken } from '../../functions/get-token';
import { createDeps, type Deps } from '../../functions/lib/deps';
import { makeHandler as makeRefresh } from '../../functions/refresh';
import { loadConfig } from '../../shared/config';
import { StoreUnavailableError } from '../../shared/errors';
import type { EventPublisher } from '../../shared/events/publisher';
import { type Log, noMetrics, silentLog } from '../../shared/log';
import type { ComponentSecret } from '../../shared/secrets';
import { DynamoDbTokenStore } from '../../shared/store/dynamodb-token-store';
import type { NewAuthorization, PendingEvent, TokenStore } from '../../shared/store/token-store';
import { type LocalDynamo, startLocalDynamo } from '../local-dynamo';
import {
  createLocalRoutes,
  invocationContext,
  type LocalService,
  startLocalService,
} from '../local-service';
import { startWechatSimulator, type WechatSimulator } from '../simulator';
import { WechatSealer } from '../simulator/crypto';
import { Conductor, type ConductorHooks } from './conductor';

export const COMPONENT_APPID = 'wx5130000000000001';
/** Fixed for every run: a seed replays to the same simulated times. Monday 2026-01-05 00:00 Beijing. */
export const SIMULATION_START = Date.UTC(2026, 0, 4, 16, 0, 0);

/**
 * Timings that make a simulated fault cost real time without making a 30-day run slow: a hung WeChat call
 * is given up after `WECHAT_TIMEOUT_MS`, and get-token is given `GET_TOKEN_TIMEOUT_MS` as a Lambda would
 * be (its deadline is then `GET_TOKEN_TIMEOUT_MS` less the answer reserve, shorter than two hung
 * attempts, so only a handler that watches its deadline answers in time).
 */
export const WECHAT_TIMEOUT_MS = 1_200;
/**
 * Entries per page of the service's list reads (`TokenContext.listPageSize`): a few, so that the listings
 * of a few dozen merchants span pages and can shift between them (protocol §11.11), as a platform's do
 * beyond 500 merchants.
 */
export const LIST_PAGE_SIZE = 4;
export const GET_TOKEN_TIMEOUT_MS = 2_000;
const REFRESH_TIMEOUT_MS = 5 * 60_000;

const SECRET: ComponentSecret = {
  componentAppSecret: 'simulation-app-secret-0000000001',
  token: 'simulationtoken',
  encodingAesKey: 'SimulationEncodingAesKey0123456789abcdefghi',
};

/**
 * The world a simulation runs in: the real handlers (get-token and refresh invoked as Lambda would, the
 * HTTP routes behind a local server), the real DynamoDB adapter on dynalite, and the strict WeChat
 * simulator. Time is simulated: the service's clock and the simulator's are two separate clocks moved
 * together by `advance`, starting at `SIMULATION_START`.
 */
export interface World {
  readonly simulator: WechatSimulator;
  readonly deps: Deps;
  readonly store: DynamoDbTokenStore;
  readonly service: LocalService;
  readonly secret: ComponentSecret;
  readonly componentAppId: string;
  /** The service's network and store as the simulation sees them (actors, interleaving). */
  readonly conductor: Conductor;
  /** Lifecycle events: every one the service wrote with a state change, and every one the bus accepted. */
  readonly events: EventWitness;
  now(): number;
  /** WeChat's time at the service's `at` (they differ by the run's clock skew: protocol §11.8). */
  wechatTime(at: number): number;
  advance(ms: number): Promise<void>;
  /** Moves both clocks by `ms` without the ticket push a step's `advance` sends (time inside a step). */
  tick(ms: number): void;
  /**
   * get-token as Lambda invokes it; `elapsedMs` is the real time it took. A thrown error (Lambda's function
   * error, a timeout included) comes back as `{functionError: <name>}`.
   */
  getToken(request: unknown): Promise<{
    answer: Record<string, unknown>;
    elapsedMs: number;
    /**
     * The longest this process's event loop stood still during the call (ms): the host's scheduler, not
     * the service, when it is most of the time the answer had (`STARVED_MS`).
     */
    stalledMs: number;
  }>;
  /** One scheduled run (`{}`), or the reconciliation (`{job: 'reconcile'}`). */
  refresh(job?: 'reconcile'): Promise<unknown>;
  /** An operator's renewal of one authorizer (`{"job":"refresh","authorizerAppId":…}`). */
  operatorRefresh(authorizerAppId: string): Promise<unknown>;
  /**
   * WeChat's redirect of the merchant's browser to `/authorize/callback` with `code`, handled in this
   * process (the same handler as the HTTP route) so that it runs as the calling actor.
   */
  callback(code: string): Promise<{ status: number }>;
  /**
   * A genuine push sealed as WeChat seals it (`AppId`, `CreateTime` and `InfoType` first), handled in this
   * process by the authorization-event handler (as the calling actor). Returns the service's answer.
   */
  deliverPush(
    infoType: string,
    fields: Record<string, string | number>
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/**
 * What the simulation knows of lifecycle events: each event written with a state change that was stored
 * (by id, with when), the ids the bus accepted, and outbox writes to refuse (a throttled `UpdateItem`).
 */
export class EventWitness {
  readonly written = new Map<string, { at: number; type: string; authorizerAppId: string }>();
  readonly published = new Set<string>();
  #refuseOutboxPutsUntil = 0;

  /** Outbox writes fail as DynamoDB throttling would until `until` (service clock). */
  refuseOutboxPuts(until: number): void {
    this.#refuseOutboxPutsUntil = Math.max(this.#refuseOutboxPutsUntil, until);
  }

  /** The service's store, watched: stored changes' events are noted, outbox writes may be refused. */
  watch(store: TokenStore, now: () => number): TokenStore {
    const note = (event: PendingEvent | undefined, stored: boolean) => {
      if (!event || !stored) return;
      const { authorizerAppId } = JSON.parse(event.detail) as { authorizerAppId: string };
      if (!this.written.has(event.id)) {
        this.written.set(event.id, { at: now(), type: event.type, authorizerAppId });
      }
    };
    return new Proxy(store, {
      get: (target, name, receiver) => {
        const method = Reflect.get(target, name, receiver);
        if (typeof method !== 'function') return method;
        switch (name) {
          case 'saveAuthorization':
            return async (a: NewAuthorization, at: number) => {
              const stored = await target.saveAuthorization(a, at);
              note(a.event, stored);
              return stored;
            };
          case 'endAuthorization':
            return async (...args: Parameters<TokenStore['endAuthorization']>) => {
              const stored = await target.endAuthorization(...args);
              note(args[3].event, stored);
              return stored;
            };
          case 'replaceRefreshToken':
            return async (...args: Parameters<TokenStore['replaceRefreshToken']>) => {
              const stored = await target.replaceRefreshToken(...args);
              note(args[5]?.event, stored);
              return stored;
            };
          case 'putOutboxEvent':
            return async (...args: Parameters<TokenStore['putOutboxEvent']>) => {
              if (now() < this.#refuseOutboxPutsUntil) {
                throw new StoreUnavailableError('simulated throttling of an outbox write');
              }
              return target.putOutboxEvent(...args);
            };
          default:
            return method.bind(target);
        }
      },
    });
  }

  /** The bus the service publishes to: it accepts every event. */
  readonly publisher: EventPublisher = {
    publish: async (events) => {
      for (const event of events) this.published.add(event.id);
      return { failed: [] };
    },
  };
}

export interface WorldOptions {
  log?: Log;
  /**
   * Wraps get-token as callers see it. Only the simulation's own tests use it, to show that an
   * invariant catches a service that breaks its promise.
   */
  wrapGetToken?: (
    getToken: (request: unknown) => Promise<Record<string, unknown>>
  ) => (request: unknown) => Promise<Record<string, unknown>>;
  /**
   * Wraps the store the service writes through (the invariants read the real one). Only the simulation's
   * own tests use it, to show that an invariant catches a service that stores the wrong token.
   */
  wrapStore?: (store: TokenStore) => TokenStore;
  /** See `ConductorHooks`. */
  hooks?: ConductorHooks;
  /** How far WeChat's clock is from the service's (the simulator's `clockSkewMs`, protocol §11.8). */
  clockSkewMs?: number;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  let offset = 0;
  const serviceClock = () => SIMULATION_START + offset;
  const wechatClock = () => SIMULATION_START + offset;
  const dynamo: LocalDynamo = await startLocalDynamo();
  const tableName = await dynamo.createTable('simulation');
  const simulator = await startWechatSimulator({
    componentAppId: COMPONENT_APPID,
    componentAppSecret: SECRET.componentAppSecret,
    token: SECRET.token,
    encodingAesKey: SECRET.encodingAesKey,
    ticketIntervalMs: 10 * 60_000,
    rules: { clockSkewMs: options.clockSkewMs ?? 0 },
    clock: wechatClock,
  });
  const config = loadConfig({
    TOKEN_TABLE_NAME: tableName,
    COMPONENT_APPID,
    COMPONENT_SECRET_ID: 'simulation',
    WECHAT_API_BASE_URL: simulator.url,
    WECHAT_AUTHORIZE_PAGE_BASE_URL: simulator.url,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
  });
  const conductor = new Conductor(fetch, options.hooks, () =>
    [...simulator.state.authorizers.values()].filter((a) => a.active)
  );
  const store = new DynamoDbTokenStore(conductor.wrapDynamo(dynamo.doc), tableName);
  const events = new EventWitness();
  const watched = events.watch(store, serviceClock);
  const deps = createDeps(config, {
    store: options.wrapStore ? options.wrapStore(watched) : watched,
    events: events.publisher,
    secrets: async () => SECRET,
    clock: serviceClock,
    log: options.log ?? silentLog,
    metrics: noMetrics,
    fetch: conductor.fetch,
    sleep: conductor.sleep,
    wechat: { timeoutMs: WECHAT_TIMEOUT_MS, attempts: 2, retryDelayMs: 0 },
    listPageSize: LIST_PAGE_SIZE,
  });
  const service = await startLocalService(deps, { clock: serviceClock });
  simulator.setEventUrl(`${service.url}/wechat/events`);
  const routes = createLocalRoutes(deps);
  const sealer = new WechatSealer({
    token: SECRET.token,
    encodingAesKey: SECRET.encodingAesKey,
    componentAppId: COMPONENT_APPID,
  });
  const getDeps = () => Promise.resolve(deps);
  const getToken = makeGetToken(getDeps);
  const invokeGetToken = async (request: unknown) =>
    (await getToken(
      request,
      invocationContext('get-token', GET_TOKEN_TIMEOUT_MS)
    )) as unknown as Record<string, unknown>;
  const invoke = options.wrapGetToken ? options.wrapGetToken(invokeGetToken) : invokeGetToken;
  const refresh = makeRefresh(getDeps);
  return {
    simulator,
    deps,
    store,
    service,
    secret: SECRET,
    componentAppId: COMPONENT_APPID,
    conductor,
    events,
    now: serviceClock,
    wechatTime: (at) => at + (options.clockSkewMs ?? 0),
    async advance(ms) {
      offset += ms;
      await simulator.catchUp();
      await simulator.flushPushes();
    },
    tick(ms) {
      offset += ms;
    },
    async getToken(request) {
      const stalls = monitorEventLoopDelay({ resolution: 20 });
      stalls.enable();
      const started = performance.now();
      // A throw is what Lambda reports as a function error (a timeout included): no answer at all.
      const answer = await invoke(request).catch((error: unknown) => ({
        functionError: (error as Error | undefined)?.name ?? 'Error',
      }));
      const elapsedMs = performance.now() - started;
      stalls.disable();
      return { answer, elapsedMs, stalledMs: stalls.max / 1e6 };
    },
    async refresh(job) {
      try {
        return await refresh(job ? { job } : {}, invocationContext('refresh', REFRESH_TIMEOUT_MS));
      } finally {
        await simulator.flushPushes();
      }
    },
    operatorRefresh(authorizerAppId) {
      return refresh(
        { job: 'refresh', authorizerAppId },
        invocationContext('refresh', REFRESH_TIMEOUT_MS)
      );
    },
    async callback(code) {
      const query = { auth_code: code, expires_in: '600' };
      const route = routes['GET /authorize/callback'] as NonNullable<(typeof routes)[string]>;
      const result = await route(
        apiGatewayEvent('GET', '/authorize/callback', query, {}, undefined, serviceClock())
      );
      return { status: result.statusCode ?? 200 };
    },
    async deliverPush(infoType, fields) {
      const now = serviceClock();
      const timestamp = String(Math.floor(now / 1000));
      const xml = `<xml>${Object.entries({
        AppId: COMPONENT_APPID,
        CreateTime: Math.floor(now / 1000),
        InfoType: infoType,
        ...fields,
      })
        .map(([name, value]) =>
          typeof value === 'number'
            ? `<${name}>${value}</${name}>`
            : `<${name}><![CDATA[${value}]]></${name}>`
        )
        .join('')}</xml>`;
      const sealed = sealer.seal(xml, { timestamp });
      const query = {
        signature: sealed.signature,
        timestamp,
        nonce: sealed.nonce,
        encrypt_type: 'aes',
        msg_signature: sealed.msgSignature,
      };
      const envelope = `<xml><AppId><![CDATA[${COMPONENT_APPID}]]></AppId><Encrypt><![CDATA[${sealed.encrypt}]]></Encrypt></xml>`;
      const route = routes['POST /wechat/events'] as NonNullable<(typeof routes)[string]>;
      const result = await route(
        apiGatewayEvent(
          'POST',
          '/wechat/events',
          query,
          { 'content-type': 'text/xml' },
          envelope,
          now
        )
      );
      return {
        status: result.statusCode ?? 200,
        body: typeof result.body === 'string' ? result.body : '',
      };
    },
    async close() {
      await service.close();
      await simulator.close();
      await dynamo.close();
    },
  };
}

/** An API Gateway HTTP API (payload v2) event for a route handled in this process. */
function apiGatewayEvent(
  method: string,
  path: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  body: string | undefined,
  now: number
): APIGatewayProxyEventV2 {
  const routeKey = `${method} ${path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: { host: '127.0.0.1', 'user-agent': 'simulation', ...headers },
    queryStringParameters: query,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: '127.0.0.1',
      domainPrefix: 'local',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'simulation' },
      requestId: 'simulation',
      routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
  };
}
