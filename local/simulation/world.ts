import { makeHandler as makeGetToken } from '../../functions/get-token';
import { createDeps, type Deps } from '../../functions/lib/deps';
import { makeHandler as makeRefresh } from '../../functions/refresh';
import { loadConfig } from '../../shared/config';
import { type Log, noMetrics, silentLog } from '../../shared/log';
import type { ComponentSecret } from '../../shared/secrets';
import type { DynamoDbTokenStore } from '../../shared/store/dynamodb-token-store';
import { type LocalDynamo, startLocalDynamo } from '../local-dynamo';
import { invocationContext, type LocalService, startLocalService } from '../local-service';
import { startWechatSimulator, type WechatSimulator } from '../simulator';

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
  now(): number;
  advance(ms: number): Promise<void>;
  /**
   * get-token as Lambda invokes it; `elapsedMs` is the real time it took. A thrown error (Lambda's function
   * error, a timeout included) comes back as `{functionError: <name>}`.
   */
  getToken(request: unknown): Promise<{ answer: Record<string, unknown>; elapsedMs: number }>;
  /** One scheduled run (`{}`), or the reconciliation (`{job: 'reconcile'}`). */
  refresh(job?: 'reconcile'): Promise<unknown>;
  close(): Promise<void>;
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
  const deps = createDeps(config, {
    dynamo: dynamo.doc,
    secrets: async () => SECRET,
    clock: serviceClock,
    log: options.log ?? silentLog,
    metrics: noMetrics,
    wechat: { timeoutMs: WECHAT_TIMEOUT_MS, attempts: 2, retryDelayMs: 0 },
  });
  const service = await startLocalService(deps, { clock: serviceClock });
  simulator.setEventUrl(`${service.url}/wechat/events`);
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
    store: deps.store as DynamoDbTokenStore,
    service,
    secret: SECRET,
    componentAppId: COMPONENT_APPID,
    now: serviceClock,
    async advance(ms) {
      offset += ms;
      await simulator.catchUp();
      await simulator.flushPushes();
    },
    async getToken(request) {
      const started = performance.now();
      // A throw is what Lambda reports as a function error (a timeout included): no answer at all.
      const answer = await invoke(request).catch((error: unknown) => ({
        functionError: (error as Error | undefined)?.name ?? 'Error',
      }));
      return { answer, elapsedMs: performance.now() - started };
    },
    async refresh(job) {
      try {
        return await refresh(job ? { job } : {}, invocationContext('refresh', REFRESH_TIMEOUT_MS));
      } finally {
        await simulator.flushPushes();
      }
    },
    async close() {
      await service.close();
      await simulator.close();
      await dynamo.close();
    },
  };
}
