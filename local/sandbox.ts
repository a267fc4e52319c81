/**
 * The local sandbox (`npm start`): the whole service on one machine, on 127.0.0.1 only.
 *
 * - a token table with its `due` index (the adapter's own table definition): in an embedded dynalite in
 *   memory, or with `DYNAMODB_ENDPOINT` in that DynamoDB (created when missing), which several sandboxes
 *   can share;
 * - the HTTP routes of the stack (`POST /wechat/events`, `GET /authorize`, `GET /authorize/callback`) served
 *   by the same handler modules, plus the local-only `POST /local/token`, `POST /local/refresh`,
 *   `GET|POST /local/clock` (time travel) and `GET /local/events` (lifecycle events, also printed);
 * - Lambda's Invoke API for the two directly invoked functions: `get-token` (callers' SDKs) and `refresh`
 *   (the operators' jobs: `npx wechat-token … --endpoint-url <url>`);
 * - the scheduled refresh handler on a timer (`REFRESH_INTERVAL_MS`);
 * - a WeChat simulator that pushes encrypted component_verify_tickets to the event URL (one at start, then
 *   every `SIMULATOR_TICKET_INTERVAL_MS` of its clock) and plays the merchant's confirm page. With
 *   `WECHAT_API_BASE_URL` set, that WeChat is used instead and no simulator starts.
 *
 * Every rule that reads time reads the sandbox's clock (`POST /local/clock` moves it forward); the simulator
 * has its own clock object, moved by the same amount.
 *
 * Logs are compact console lines (redacted); no token, ticket, secret or auth code is ever printed.
 * SIGINT / SIGTERM close everything and exit 0 (see `shutdown.ts` for relayed copies and a second signal).
 *
 * @see ../docs/architecture.md §5
 */
import { randomBytes, randomInt } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDeps } from '../functions/lib/deps';
import { makeHandler as makeRefresh, SystemicRefreshError } from '../functions/refresh';
import { DEFAULT_WECHAT_API_BASE_URL, loadConfig, PAGE_ENV } from '../shared/config';
import { ConfigError } from '../shared/errors';
import type { Log } from '../shared/log';
import type { ComponentSecret } from '../shared/secrets';
import {
  type ConsoleSink,
  consoleLog,
  consoleMetrics,
  LOG_LEVELS,
  type LogLevel,
  processSink,
} from './console-log';
import {
  type AwsTarget,
  awsTargetFromEnv,
  ensureTokenTable,
  localDynamoClients,
  startLocalDynamo,
} from './local-dynamo';
import { localEventBus } from './local-events';
import { invocationContext, REFRESH_TIMEOUT_MS, startLocalService } from './local-service';
import { sandboxRoutes } from './sandbox-routes';
import { stopOnSignal } from './shutdown';
import { startWechatSimulator, type WechatSimulator } from './simulator';
import { TimeTravel } from './time-travel';

export const DEFAULT_PORT = 3000;
/** Not a secret: the appid shows up in every link. Fixed so that the walkthrough's examples match. */
export const DEFAULT_COMPONENT_APPID = 'wx0123456789abcdef';
export const DEFAULT_REFRESH_INTERVAL_MS = 60_000;
/** WeChat pushes a component_verify_ticket every 10 minutes. */
export const DEFAULT_TICKET_INTERVAL_MS = 600_000;
export const DEFAULT_TABLE_NAME = 'sandbox-tokens';
/** How long a shutdown waits for a scheduled refresh in progress before closing anyway. */
const SHUTDOWN_REFRESH_WAIT_MS = 3_000;

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN = /^[A-Za-z0-9]{3,32}$/;
const AES_KEY = /^[A-Za-z0-9]{43}$/;
/** DynamoDB's table-name rule. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const ENDPOINT = /^https?:\/\/[^/\s]+\/?$/;

/** `length` uniformly random letters and digits. */
export function randomAlphanumeric(length: number): string {
  let value = '';
  for (let i = 0; i < length; i++) value += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return value;
}

export interface SandboxSettings {
  port: number;
  componentAppId: string;
  secret: ComponentSecret;
  /** Names of the variables whose values were generated for this run (never printed). */
  generated: string[];
  /** 0 = no timer (`POST /local/refresh` still works). */
  refreshIntervalMs: number;
  /** Simulator only; 0 = only the push at start. */
  ticketIntervalMs: number;
  /** Set when `WECHAT_API_BASE_URL` is: use that WeChat, start no simulator. */
  externalWechat?: { apiBaseUrl: string; pageBaseUrl?: string };
  /** `TOKEN_TABLE_NAME`, in the embedded store or the outside one. */
  tableName: string;
  /** Set when `DYNAMODB_ENDPOINT` is: use that DynamoDB (its region and credentials from the env). */
  outsideStore?: AwsTarget & { endpoint: string };
  logLevel: LogLevel;
  /** `PAGE_ENV` as given (the platform's display name, the page routes' budgets), for the page functions. */
  pageEnv?: Partial<Record<(typeof PAGE_ENV)[number], string>>;
}

function integer(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  max: number,
  problems: string[]
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > max) {
    problems.push(`${name} must be an integer from 0 to ${max}`);
    return fallback;
  }
  return value;
}

/**
 * Reads the sandbox's configuration from the environment. Everything is optional: the component secret
 * (app secret, message token, EncodingAESKey) is generated per run unless given. Against an external WeChat
 * (`WECHAT_API_BASE_URL`) the appid and secret must be given, since they must match that WeChat's.
 *
 * @throws ConfigError naming every problem at once (never echoing a secret value).
 */
export function readSandboxSettings(
  env: Record<string, string | undefined> = process.env
): SandboxSettings {
  const problems: string[] = [];
  const generated: string[] = [];
  const given = (name: string) => env[name]?.trim() || undefined;
  const orGenerate = (name: string, make: () => string) => {
    const value = given(name);
    if (value !== undefined) return value;
    generated.push(name);
    return make();
  };
  const port = integer(env, 'PORT', DEFAULT_PORT, 65_535, problems);
  const componentAppId = given('COMPONENT_APPID') ?? DEFAULT_COMPONENT_APPID;
  const secret: ComponentSecret = {
    componentAppSecret: orGenerate('COMPONENT_APPSECRET', () => randomBytes(16).toString('hex')),
    token: orGenerate('COMPONENT_TOKEN', () => randomAlphanumeric(32)),
    encodingAesKey: orGenerate('COMPONENT_ENCODING_AES_KEY', () => randomAlphanumeric(43)),
  };
  if (!TOKEN.test(secret.token)) {
    problems.push('COMPONENT_TOKEN must be 3 to 32 letters and digits');
  }
  if (!AES_KEY.test(secret.encodingAesKey)) {
    problems.push('COMPONENT_ENCODING_AES_KEY must be 43 letters and digits');
  }
  const refreshIntervalMs = integer(
    env,
    'REFRESH_INTERVAL_MS',
    DEFAULT_REFRESH_INTERVAL_MS,
    2 ** 31 - 1,
    problems
  );
  const ticketIntervalMs = integer(
    env,
    'SIMULATOR_TICKET_INTERVAL_MS',
    DEFAULT_TICKET_INTERVAL_MS,
    2 ** 31 - 1,
    problems
  );
  const tableName = given('TOKEN_TABLE_NAME') ?? DEFAULT_TABLE_NAME;
  if (!TABLE_NAME.test(tableName)) {
    problems.push('TOKEN_TABLE_NAME must be 3 to 255 letters, digits, _ . or -');
  }
  const endpoint = given('DYNAMODB_ENDPOINT')?.replace(/\/+$/, '');
  if (endpoint && !ENDPOINT.test(endpoint)) {
    problems.push('DYNAMODB_ENDPOINT must be an http(s) origin, e.g. http://127.0.0.1:8000');
  }
  const logLevel = (given('LOG_LEVEL')?.toLowerCase() ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS}`);

  const apiBaseUrl = given('WECHAT_API_BASE_URL')?.replace(/\/+$/, '');
  let externalWechat: SandboxSettings['externalWechat'];
  if (apiBaseUrl) {
    // Real WeChat serves its authorization pages elsewhere (mp/open.weixin.qq.com): keep the defaults then.
    const pageBaseUrl =
      given('WECHAT_AUTHORIZE_PAGE_BASE_URL')?.replace(/\/+$/, '') ??
      (apiBaseUrl === DEFAULT_WECHAT_API_BASE_URL ? undefined : apiBaseUrl);
    externalWechat = pageBaseUrl ? { apiBaseUrl, pageBaseUrl } : { apiBaseUrl };
    const missing = ['COMPONENT_APPID', ...generated].filter((name) => !given(name));
    if (missing.length) {
      problems.push(
        `with WECHAT_API_BASE_URL set, also set ${missing.join(', ')} to that WeChat's values`
      );
    }
  }
  const pageEnv = Object.fromEntries(PAGE_ENV.map((name) => [name, given(name)]));
  try {
    loadConfig({
      ...pageEnv,
      TOKEN_TABLE_NAME: 'sandbox',
      COMPONENT_SECRET_ID: 'sandbox',
      COMPONENT_APPID: componentAppId,
      WECHAT_API_BASE_URL: externalWechat?.apiBaseUrl,
      // Only a given one: a derived one would repeat WECHAT_API_BASE_URL's problem.
      WECHAT_AUTHORIZE_PAGE_BASE_URL: given('WECHAT_AUTHORIZE_PAGE_BASE_URL'),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    port,
    componentAppId,
    secret,
    generated,
    refreshIntervalMs,
    ticketIntervalMs,
    ...(externalWechat ? { externalWechat } : {}),
    tableName,
    ...(endpoint ? { outsideStore: { endpoint, ...awsTargetFromEnv(env) } } : {}),
    logLevel,
    pageEnv,
  };
}

/** The port is taken by another process. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(readonly port: number) {
    super(
      `port ${port} is already in use; set PORT=<another port>, e.g. PORT=${port + 1} npm start`
    );
  }
}

export interface Sandbox {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly authorizePageUrl: string;
  readonly eventUrl: string;
  /** The WeChat in use: the sandbox's simulator, or the external one. */
  readonly wechat: { url: string; simulated: boolean };
  /** Present when the sandbox started its own simulator. */
  readonly simulator?: WechatSimulator;
  /** The token table: in the embedded dynalite, or at `DYNAMODB_ENDPOINT` (created by this run or not). */
  readonly store: { tableName: string } & (
    | { embedded: true }
    | { embedded: false; endpoint: string; created: boolean }
  );
  /** The sandbox's time (epoch ms). */
  now(): number;
  /**
   * Time travel: moves the service's and the simulator's clocks forward by `ms`, lets the simulator send the
   * ticket push that became due, then runs one scheduled refresh (as the timer would). Resolves with the
   * new time. Advances run one at a time, never during a refresh.
   *
   * @throws InvalidAdvanceError, changing nothing, unless `ms` is a non-negative integer.
   */
  advanceClock(ms: number): Promise<number>;
  /** One scheduled refresh run, as the timer does it (resolves when it has finished and logged). */
  runRefresh(): Promise<void>;
  /** Stops the timers, waits briefly for a refresh in progress, closes the servers. Idempotent. */
  close(): Promise<void>;
}

/** The embedded dynalite, or the outside DynamoDB; either way with the token table ready. */
async function openStore(
  settings: SandboxSettings,
  closers: (() => Promise<void>)[]
): Promise<{ view: Sandbox['store']; doc: DynamoDBDocumentClient; endpoint: string }> {
  const { tableName, outsideStore } = settings;
  if (!outsideStore) {
    const dynamo = await startLocalDynamo();
    closers.push(() => dynamo.close());
    await ensureTokenTable(dynamo.client, tableName);
    return { view: { tableName, embedded: true }, doc: dynamo.doc, endpoint: dynamo.endpoint };
  }
  const { endpoint } = outsideStore;
  const { client, doc } = localDynamoClients(endpoint, outsideStore);
  closers.push(async () => client.destroy());
  const created = (await ensureTokenTable(client, tableName)) === 'created';
  return { view: { tableName, embedded: false, endpoint, created }, doc, endpoint };
}

/**
 * Starts the sandbox's pieces in order (store, simulator, handlers on `settings.port`), pushes the first
 * ticket and starts the timers. On a failure, whatever was started is closed again before rethrowing.
 *
 * @throws PortInUseError when `settings.port` is taken.
 */
export async function startSandbox(settings: SandboxSettings, log: Log): Promise<Sandbox> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) =>
        log.warn('closing a sandbox part failed', { errorName: (error as Error).name })
      );
    }
  };
  try {
    const time = new TimeTravel();
    const store = await openStore(settings, closers);

    let simulator: WechatSimulator | undefined;
    if (!settings.externalWechat) {
      simulator = await startWechatSimulator({
        componentAppId: settings.componentAppId,
        componentAppSecret: settings.secret.componentAppSecret,
        token: settings.secret.token,
        encodingAesKey: settings.secret.encodingAesKey,
        ticketIntervalMs: settings.ticketIntervalMs,
        clock: time.clock(),
      });
      const started = simulator;
      closers.push(() => started.close());
    }
    const wechatUrl = settings.externalWechat?.apiBaseUrl ?? (simulator as WechatSimulator).url;
    const pageBaseUrl = settings.externalWechat ? settings.externalWechat.pageBaseUrl : wechatUrl;

    const config = loadConfig({
      ...settings.pageEnv,
      TOKEN_TABLE_NAME: settings.tableName,
      COMPONENT_APPID: settings.componentAppId,
      COMPONENT_SECRET_ID: 'sandbox',
      WECHAT_API_BASE_URL: wechatUrl,
      WECHAT_AUTHORIZE_PAGE_BASE_URL: pageBaseUrl,
      DYNAMODB_ENDPOINT: store.endpoint,
    });
    const secret = settings.secret;
    const clock = time.clock();
    const events = localEventBus(log);
    // The secret is fixed for the run: no cache to expire, so nothing here reads time.
    const deps = createDeps(config, {
      dynamo: store.doc,
      secrets: async () => secret,
      events,
      clock,
      log,
      metrics: consoleMetrics(log),
    });

    const refresh = makeRefresh(() => Promise.resolve(deps));
    let running: Promise<void> | undefined;
    const runRefresh = (): Promise<void> => {
      if (running) {
        log.warn('scheduled refresh still running; this tick is skipped');
        return running;
      }
      // The handler logs its one-line summary itself (also on a systemic failure, before throwing).
      running = refresh({}, invocationContext('sandbox-refresh', REFRESH_TIMEOUT_MS))
        .then(
          () => undefined,
          (error: unknown) => {
            if (!(error instanceof SystemicRefreshError)) {
              log.error('scheduled refresh failed', { errorName: (error as Error).name });
            }
          }
        )
        .finally(() => {
          running = undefined;
        });
      return running;
    };
    const refreshFinished = async () => {
      while (running) await running;
    };

    let advancing: Promise<unknown> = Promise.resolve();
    const advanceClock = (ms: number): Promise<number> => {
      const step = advancing.then(async () => {
        await refreshFinished();
        const now = time.advance(ms);
        log.info('clock advanced', { advanceMs: ms, now: new Date(now).toISOString() });
        await simulator?.catchUp();
        await refreshFinished();
        await runRefresh();
        return time.now();
      });
      advancing = step.catch(() => undefined);
      return step;
    };

    const service = await startLocalService(deps, {
      port: settings.port,
      clock,
      routes: sandboxRoutes({ now: () => time.now(), advanceClock, simulator, events }),
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE' ? new PortInUseError(settings.port) : error;
    });
    closers.push(() => service.close());
    service.server.on('request', (request, response) => {
      const started = performance.now();
      // The path only: query strings carry auth codes and signatures.
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      response.on('finish', () => {
        const ms = Math.round(performance.now() - started);
        log.info(`${request.method} ${path} ${response.statusCode} ${ms}ms`);
      });
    });
    const eventUrl = `${service.url}/wechat/events`;

    if (simulator) {
      simulator.setEventUrl(eventUrl);
      const push = await simulator.pushTicket();
      if (push.status !== 200 || push.body !== 'success') {
        log.warn('the first component_verify_ticket push was not accepted', {
          status: push.status,
        });
      }
    }

    let timer: NodeJS.Timeout | undefined;
    if (settings.refreshIntervalMs > 0) {
      timer = setInterval(() => void runRefresh(), settings.refreshIntervalMs);
    }
    closers.push(async () => {
      clearInterval(timer);
      const wait = new Promise<void>((resolve) =>
        setTimeout(resolve, SHUTDOWN_REFRESH_WAIT_MS).unref()
      );
      await Promise.race([running, wait]);
    });

    let closing: Promise<void> | undefined;
    return {
      url: service.url,
      authorizePageUrl: `${service.url}/authorize`,
      eventUrl,
      wechat: { url: wechatUrl, simulated: !!simulator },
      ...(simulator ? { simulator } : {}),
      store: store.view,
      now: () => time.now(),
      advanceClock,
      runRefresh,
      close: () => {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** What `npm start` prints once everything is up; the ready line (`listening on …`) comes last. */
export function startupLines(sandbox: Sandbox, settings: SandboxSettings): string[] {
  const secretNote = settings.generated.length
    ? ` (${settings.generated.join(', ')} generated for this run, not shown)`
    : '';
  const refresh = settings.refreshIntervalMs
    ? `also every ${settings.refreshIntervalMs / 1000} s on a timer`
    : 'timer off: REFRESH_INTERVAL_MS=0';
  const { store } = sandbox;
  const table = store.embedded
    ? `${store.tableName} in the embedded dynalite (in memory; DYNAMODB_ENDPOINT for another)`
    : `${store.tableName} at ${store.endpoint} (${store.created ? 'created' : 'existing'})`;
  const lines = [
    `WeChat token service sandbox, component appid ${settings.componentAppId}${secretNote}`,
    `  authorization page  ${sandbox.authorizePageUrl}`,
    `  event URL           ${sandbox.eventUrl}`,
    `  token table         ${table}`,
  ];
  if (sandbox.wechat.simulated) {
    const tickets = settings.ticketIntervalMs
      ? `pushes a ticket every ${settings.ticketIntervalMs / 1000} s`
      : 'pushed one ticket at start';
    lines.push(
      `  WeChat simulator    ${sandbox.wechat.url} (${tickets})`,
      `  revoke (simulator)  POST ${sandbox.wechat.url}/simulator/unauthorize?authorizer_appid=<appid>`,
      `  WeChat calls        GET ${sandbox.url}/local/wechat-calls`
    );
  } else {
    lines.push(`  WeChat (external)   ${sandbox.wechat.url} (it pushes tickets to the event URL)`);
  }
  lines.push(
    `  get a token         POST ${sandbox.url}/local/token {"authorizerAppId":"<appid>"} or {"component":true}`,
    `  scheduled refresh   POST ${sandbox.url}/local/refresh (${refresh})`,
    `  time travel         POST ${sandbox.url}/local/clock {"advanceMs":7200000} (GET: the sandbox's time)`,
    `  lifecycle events    GET ${sandbox.url}/local/events (what the EventBridge bus would carry)`,
    `  operations CLI      npx wechat-token status --endpoint-url ${sandbox.url} (also list, show, refresh, reconcile)`,
    `listening on ${sandbox.url}`
  );
  return lines;
}

/** `npm start`: returns the process exit code for startup failures; otherwise runs until a signal. */
export async function main(
  env: Record<string, string | undefined> = process.env,
  sink: ConsoleSink = processSink
): Promise<number | undefined> {
  let settings: SandboxSettings;
  try {
    settings = readSandboxSettings(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    sink.err(
      `sandbox: invalid configuration:\n${error.problems.map((p) => `  - ${p}`).join('\n')}`
    );
    return 1;
  }
  const log = consoleLog({ level: settings.logLevel, sink });
  // The AWS SDK's "node >= 22 from 2027" notice is about deployments, not this local tool: keep it quiet.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Listening from the start: a Ctrl-C during startup stops cleanly once the parts are up.
  const starting = startSandbox(settings, log);
  const stop = stopOnSignal({
    close: () => starting.then((sandbox) => sandbox.close()),
    sink,
    exit: (code) => process.exit(code),
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let sandbox: Sandbox;
  try {
    sandbox = await starting;
  } catch (error) {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    const message =
      error instanceof PortInUseError
        ? error.message
        : `could not start: ${(error as Error).name}: ${(error as Error).message}`;
    sink.err(`sandbox: ${message}`);
    return 1;
  }
  for (const line of startupLines(sandbox, settings)) sink.out(line);
  return undefined;
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main().then(
    (code) => {
      if (code !== undefined) process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`sandbox: ${(error as Error).name}: ${(error as Error).message}\n`);
      process.exit(1);
    }
  );
}
