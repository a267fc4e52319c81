import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDeps, type Deps } from '../../functions/lib/deps';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo';
import { type LocalService, startLocalService } from '../../local/local-service';
import {
  type SimulatorOptions,
  startWechatSimulator,
  type WechatSimulator,
} from '../../local/simulator';
import { loadConfig } from '../../shared/config';
import type { EventPublisher } from '../../shared/events/publisher';
import type { ComponentSecret } from '../../shared/secrets';
import { DynamoDbTokenStore } from '../../shared/store/dynamodb-token-store';
import type { TokenStore } from '../../shared/store/token-store';
import {
  type RecordedLog,
  type RecordedMetrics,
  recordingLog,
  recordingMetrics,
} from './recorders';
import { COMPONENT_APPID } from './test-ids';

export const SECRET: ComponentSecret = {
  componentAppSecret: 'component-app-secret-value-0001',
  token: 'callback-token-value',
  encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
};

/** A clock tests move by hand; starts at the real time so HTTP-level timestamps stay plausible. */
export class ManualClock {
  now = Date.now();
  readonly read = () => this.now;
  advance(ms: number) {
    this.now += ms;
  }
}

export interface Harness {
  clock: ManualClock;
  dynamo: LocalDynamo;
  tableName: string;
  simulator: WechatSimulator;
  service: LocalService;
  deps: Deps;
  store: DynamoDbTokenStore;
  log: RecordedLog;
  metrics: RecordedMetrics;
  post(path: string, body: unknown): Promise<Response>;
  token(request: unknown): Promise<Record<string, unknown>>;
  refresh(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<SimulatorOptions> {
  /** Share one dynalite between harnesses; each still gets its own table. */
  dynamo?: LocalDynamo;
  /** Per-attempt WeChat timeout; the client then makes 2 attempts with no pause between them. */
  wechatTimeoutMs?: number;
  /** Wraps the real DynamoDbTokenStore the handlers use (crash simulation). */
  wrapStore?: (store: TokenStore) => TokenStore;
  /** Replaces the document client the handlers use (aws-sdk-client-mock in front of dynalite). */
  document?: (real: DynamoDBDocumentClient) => DynamoDBDocumentClient;
  /** Use the real Powertools Logger and Metrics instead of the recorders. */
  powertools?: boolean;
  /** Where the handlers publish lifecycle events; unset: none are recorded. */
  events?: EventPublisher;
}

/**
 * The whole service on loopback: dynalite with the real table, the real handlers behind the local HTTP
 * server, the real HTTP WeChat client, and the WeChat simulator pushing to our event URL. One clock drives
 * both sides.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const {
    dynamo: sharedDynamo,
    wechatTimeoutMs,
    wrapStore,
    document,
    powertools,
    events,
    ...simulatorOptions
  } = options;
  const clock = new ManualClock();
  const dynamo = sharedDynamo ?? (await startLocalDynamo());
  const tableName = await dynamo.createTable();
  const simulator = await startWechatSimulator({
    componentAppId: COMPONENT_APPID,
    componentAppSecret: SECRET.componentAppSecret,
    token: SECRET.token,
    encodingAesKey: SECRET.encodingAesKey,
    clock: clock.read,
    ...simulatorOptions,
  });
  const log = recordingLog();
  const metrics = recordingMetrics();
  const config = loadConfig({
    TOKEN_TABLE_NAME: tableName,
    COMPONENT_APPID,
    COMPONENT_SECRET_ID: 'local',
    WECHAT_API_BASE_URL: simulator.url,
    WECHAT_AUTHORIZE_PAGE_BASE_URL: simulator.url,
  });
  const realStore = new DynamoDbTokenStore(document ? document(dynamo.doc) : dynamo.doc, tableName);
  const deps = createDeps(config, {
    store: wrapStore ? wrapStore(realStore) : realStore,
    secrets: async () => SECRET,
    clock: clock.read,
    events,
    ...(powertools ? {} : { log, metrics }),
    ...(wechatTimeoutMs
      ? { wechat: { timeoutMs: wechatTimeoutMs, attempts: 2, retryDelayMs: 0 } }
      : {}),
  });
  const service = await startLocalService(deps);
  simulator.setEventUrl(`${service.url}/wechat/events`);
  const post = (path: string, body: unknown) =>
    fetch(`${service.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return {
    clock,
    dynamo,
    tableName,
    simulator,
    service,
    deps,
    store: new DynamoDbTokenStore(dynamo.doc, tableName),
    log,
    metrics,
    post,
    token: async (request) =>
      (await (await post('/local/token', request)).json()) as Record<string, unknown>,
    refresh: async () =>
      (await (await post('/local/refresh', {})).json()) as Record<string, unknown>,
    async close() {
      await service.close();
      await simulator.close();
      if (!sharedDynamo) await dynamo.close();
    },
  };
}

/**
 * Pushes a ticket and authorizes `authorizerAppId` as WeChat does when an admin confirms: the `authorized`
 * push, then the redirect callback with the same code.
 */
export async function authorizeMerchant(h: Harness, authorizerAppId: string): Promise<void> {
  if (!h.simulator.state.latestTicket) await h.simulator.pushTicket();
  const { authCode: code } = await h.simulator.pushAuthorized(authorizerAppId);
  const response = await fetch(
    `${h.service.url}/authorize/callback?auth_code=${encodeURIComponent(code)}&expires_in=600`
  );
  if (response.status !== 200) throw new Error(`callback answered ${response.status}`);
}
