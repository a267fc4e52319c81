/**
 * The local sandbox (`npm start`): the whole service on one machine, on 127.0.0.1 only.
 *
 * - a token table with its `due` index (the adapter's own table definition): in an embedded dynalite in
 *   memory, or with `DYNAMODB_ENDPOINT` in that DynamoDB (created when missing), which several sandboxes
 *   can share;
 * - the HTTP routes of the stack (`POST /wechat/events`, `GET /authorize`, `GET /authorize/callback`) served
 *   by the same handler modules, plus the local-only `POST /local/token`, `POST /local/refresh`,
 *   `GET|POST /local/clock` (time travel) and `GET /local/events` (lifecycle events and messages, also
 *   printed, and POSTed to `EVENTS_WEBHOOK_URL` when it is set);
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
 * The settings are read by `sandbox-settings.ts`, the banner written by `sandbox-banner.ts`, and `npm start`
 * is `sandbox-cli.ts`.
 *
 * @see ../docs/architecture.md §5
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDeps } from '../functions/lib/deps';
import { makeHandler as makeRefresh, SystemicRefreshError } from '../functions/refresh';
import type { EpochMs } from '../shared/clock';
import { loadConfig } from '../shared/config';
import type { Log } from '../shared/log';
import type { ReleaseCheckReplyJob } from '../shared/messages/handle-message';
import { consoleMetrics } from './console-log';
import { egressFetch, SANDBOX_EGRESS_IP } from './egress-fetch';
import { ensureTokenTable, localDynamoClients, startLocalDynamo } from './local-dynamo';
import { LOCAL_EVENTS_KEPT, localEventBus } from './local-events';
import { invocationContext, REFRESH_TIMEOUT_MS, startLocalService } from './local-service';
import { sandboxRoutes } from './sandbox-routes';
import type { SandboxSettings } from './sandbox-settings';
import { startWechatSimulator, type WechatSimulator } from './simulator';
import { TimeTravel } from './time-travel';

/** How long a shutdown waits for a scheduled refresh in progress (or webhook deliveries) before closing. */
const SHUTDOWN_REFRESH_WAIT_MS = 3_000;

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
  /**
   * The message-and-event URL as the console takes it (`…/wechat/messages/$APPID$`; WeChat puts the
   * account's appid in place of `$APPID$`).
   */
  readonly messageUrl: string;
  /** The WeChat in use: the sandbox's simulator, or the external one. */
  readonly wechat: { url: string; simulated: boolean };
  /** Present when the sandbox started its own simulator. */
  readonly simulator?: WechatSimulator;
  /** The token table: in the embedded dynalite, or at `DYNAMODB_ENDPOINT` (created by this run or not). */
  readonly store: { tableName: string } & (
    | { embedded: true }
    | { embedded: false; endpoint: string; created: boolean }
  );
  /** The sandbox's time. */
  now(): EpochMs;
  /**
   * Time travel: moves the service's and the simulator's clocks forward by `ms`, lets the simulator send the
   * ticket push that became due, then runs one scheduled refresh (as the timer would). Resolves with the
   * new time. Advances run one at a time, never during a refresh.
   *
   * @throws InvalidAdvanceError, changing nothing, unless `ms` is a non-negative integer.
   */
  advanceClock(ms: number): Promise<EpochMs>;
  /** One scheduled refresh run, as the timer does it (resolves when it has finished and logged). */
  runRefresh(): Promise<void>;
  /** Stops the timers, waits briefly for a refresh in progress, closes the servers. Idempotent. */
  close(): Promise<void>;
}

/** Waits for `work` (a refresh in progress, the event webhook's deliveries) at most a shutdown's wait. */
async function waitBriefly(work: Promise<unknown> | undefined): Promise<void> {
  const wait = new Promise<void>((resolve) =>
    setTimeout(resolve, SHUTDOWN_REFRESH_WAIT_MS).unref()
  );
  await Promise.race([work, wait]);
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
        // As the platform's whitelist holds the NAT's Elastic IP: only the service's own calls pass.
        whitelist: [SANDBOX_EGRESS_IP],
      });
      const started = simulator;
      closers.push(() => started.close());
    }
    const wechatUrl = settings.externalWechat?.apiBaseUrl ?? (simulator as WechatSimulator).url;
    const pageBaseUrl = settings.externalWechat ? settings.externalWechat.pageBaseUrl : wechatUrl;
    // A simulator on this machine (ours, or another sandbox's) whitelists the sandbox egress address only.
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(wechatUrl).hostname);

    const config = loadConfig({
      ...settings.pageEnv,
      TOKEN_TABLE_NAME: settings.tableName,
      COMPONENT_APPID: settings.componentAppId,
      COMPONENT_SECRET_ID: 'sandbox',
      WECHAT_API_BASE_URL: wechatUrl,
      WECHAT_AUTHORIZE_PAGE_BASE_URL: pageBaseUrl,
      DYNAMODB_ENDPOINT: store.endpoint,
      ...(loopback ? { EGRESS_IP: SANDBOX_EGRESS_IP } : {}),
    });
    const secret = settings.secret;
    const clock = time.clock();
    const events = localEventBus(
      log,
      LOCAL_EVENTS_KEPT,
      settings.eventsWebhookUrl ? { url: settings.eventsWebhookUrl } : undefined
    );
    closers.push(() => waitBriefly(events.delivered()));
    // What AWS does with the intake's asynchronous invoke: the refresh handler runs the job in the
    // background, after the intake has answered WeChat.
    const backgroundJobs = new Set<Promise<unknown>>();
    const startReleaseCheckReply = async (job: ReleaseCheckReplyJob) => {
      const run = refresh(job, invocationContext('refresh', REFRESH_TIMEOUT_MS))
        .catch((error: unknown) => {
          log.error('release-check job failed', { errorName: (error as Error).name });
        })
        .finally(() => backgroundJobs.delete(run));
      backgroundJobs.add(run);
    };
    // The secret is fixed for the run: no cache to expire, so nothing here reads time.
    const deps = createDeps(config, {
      startReleaseCheckReply,
      dynamo: store.doc,
      secrets: async () => secret,
      events,
      clock,
      log,
      metrics: consoleMetrics(log),
      ...(loopback ? { fetch: egressFetch(SANDBOX_EGRESS_IP) } : {}),
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
    closers.push(async () => {
      await Promise.all(backgroundJobs);
    });
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
    const messageUrl = `${service.url}/wechat/messages/$APPID$`;

    if (simulator) {
      simulator.setEventUrl(eventUrl);
      simulator.setMessageUrl(messageUrl);
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
      await waitBriefly(running);
    });

    let closing: Promise<void> | undefined;
    return {
      url: service.url,
      authorizePageUrl: `${service.url}/authorize`,
      eventUrl,
      messageUrl,
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
