import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { makeHandler as makeAuthEvent } from '../functions/auth-event';
import { makeHandler as makeAuthorizeCallback } from '../functions/authorize-callback';
import { makeHandler as makeAuthorizePage } from '../functions/authorize-page';
import { makeHandler as makeCallWechat } from '../functions/call-wechat';
import { makeHandler as makeGetToken } from '../functions/get-token';
import type { Deps } from '../functions/lib/deps';
import type { HttpResult } from '../functions/lib/http';
import { makeHandler as makeRefresh } from '../functions/refresh';
import { MESSAGE_ROUTE, makeHandler as makeWechatMessage } from '../functions/wechat-message';
import { type Clock, systemClock } from '../shared/clock';
import { LAMBDA_INVOKE_ROUTE, lambdaInvokeApi, lambdaRouteKey } from './lambda-invoke';

/** The sandbox accepts bodies up to this size before handing them to a handler (which has its own limit). */
const MAX_LOCAL_BODY = 1024 * 1024;
/**
 * After a 413 the rest of the body is read and dropped, up to this much, so that the client reads the answer
 * instead of a reset; beyond it the connection is cut.
 */
const MAX_DRAINED_BODY = 64 * MAX_LOCAL_BODY;
/** The deployed functions' timeout (`infra/constructs/service-function.ts`); the refresh has its own. */
export const FUNCTION_TIMEOUT_MS = 10_000;
export const REFRESH_TIMEOUT_MS = 5 * 60_000;
/** On close, requests in flight get this long to finish before their connections are cut. */
const CLOSE_GRACE_MS = 1_000;

/** One HTTP route: an API Gateway v2 event in, the handler's result out. */
export type Route = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;
/** Routes by `"<METHOD> <path>"`. */
export type Routes = Record<string, Route>;

/**
 * A fresh Lambda context for one invocation, whose remaining time counts down in real time from
 * `timeoutMs` as in AWS, so the handlers' deadlines behave as deployed (a sandbox clock advance does not
 * shorten an invocation in flight).
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html
 */
export function invocationContext(functionName: string, timeoutMs: number): Context {
  const deadline = performance.now() + timeoutMs;
  return {
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(deadline - performance.now())),
    functionName,
    awsRequestId: randomUUID(),
  } as unknown as Context;
}

/** Turns a Node request into the API Gateway HTTP API (payload v2) event the Lambdas receive. */
export function toApiGatewayEvent(
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  clock: Clock = systemClock
): APIGatewayProxyEventV2 {
  const now = clock();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-proto'] ??= 'http';
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  const textual = /xml|json|text|urlencoded/i.test(headers['content-type'] ?? 'text/plain');
  const routeKey = `${request.method} ${url.pathname}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    body: body.length ? (textual ? body.toString('utf8') : body.toString('base64')) : undefined,
    isBase64Encoded: body.length > 0 && !textual,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: 'local',
      routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
  };
}

/** The parsed JSON body, or undefined when there is none or it is not JSON. */
export function parseJson(body: string | undefined): unknown {
  try {
    return JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
}

/** A JSON answer that is never cached. */
export function json(status: number, value: unknown): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(value),
  };
}

/**
 * The service's HTTP routes on one local server, calling the same handler modules the stack deploys:
 * `POST /wechat/events`, `GET /authorize`, `GET /authorize/callback`. Lambda's Invoke API serves the two
 * directly invoked functions, `get-token` and `call-wechat` (callers) and `refresh` (the operators' jobs,
 * `npx wechat-token`).
 * Two local-only routes stand in for what AWS does: `POST /local/token` (the get-token Lambda invoke; answers
 * exactly what the Lambda returns) and `POST /local/refresh` (one scheduled refresh run; answers its summary;
 * with `{"job":"reconcile"}` the authorizer reconciliation instead). Each call gets its own invocation
 * context with the deployed timeout.
 */
export function createLocalRoutes(deps: Deps, options: { refreshTimeoutMs?: number } = {}): Routes {
  const getDeps = () => Promise.resolve(deps);
  const authEvent = makeAuthEvent(getDeps);
  const authorizePage = makeAuthorizePage(getDeps);
  const authorizeCallback = makeAuthorizeCallback(getDeps);
  const getToken = makeGetToken(getDeps);
  const callWechat = makeCallWechat(getDeps);
  const refresh = makeRefresh(getDeps);
  const wechatMessage = makeWechatMessage(getDeps);
  const refreshTimeoutMs = options.refreshTimeoutMs ?? REFRESH_TIMEOUT_MS;
  const context = (name: string) =>
    invocationContext(name, name === 'refresh' ? refreshTimeoutMs : FUNCTION_TIMEOUT_MS);
  const routes: Routes = {
    'POST /wechat/events': (event) => authEvent(event, context('auth-event')),
    [MESSAGE_ROUTE]: (event) => wechatMessage(event, context('wechat-message')),
    'GET /authorize': (event) => authorizePage(event, context('authorize-page')),
    'GET /authorize/callback': (event) => authorizeCallback(event, context('authorize-callback')),
    [LAMBDA_INVOKE_ROUTE]: lambdaInvokeApi(
      { 'get-token': getToken, 'call-wechat': callWechat, refresh },
      context
    ),
    'POST /local/token': async (event) => {
      const payload = parseJson(event.body);
      if (payload === undefined) {
        return json(400, { error: { code: 'invalid_request', message: 'body must be JSON' } });
      }
      return json(200, await getToken(payload, context('get-token')));
    },
    'POST /local/refresh': async (event) => {
      const body = parseJson(event.body) as { job?: unknown } | null | undefined;
      const job = body?.job === 'reconcile' ? { job: 'reconcile' } : {};
      try {
        return json(200, await refresh(job, context('refresh')));
      } catch (error) {
        return json(500, { error: { code: 'refresh_failed', message: (error as Error).message } });
      }
    },
  };
  return routes;
}

export interface LocalService {
  url: string;
  server: Server;
  /**
   * Stops accepting connections, lets requests in flight finish for a moment, then cuts what is left.
   * Idempotent.
   */
  close(): Promise<void>;
}

export interface LocalServiceOptions {
  port?: number;
  refreshTimeoutMs?: number;
  /** Stamps the events' `requestContext.time` (the sandbox's clock); default real time. */
  clock?: Clock;
  /** More routes (the sandbox's own); they win over the service's on the same key. */
  routes?: Routes;
}

/** Serves `createLocalRoutes` (plus `options.routes`) on 127.0.0.1. */
export async function startLocalService(
  deps: Deps,
  options: LocalServiceOptions = {}
): Promise<LocalService> {
  const routes = { ...createLocalRoutes(deps, options), ...options.routes };
  const clock = options.clock ?? systemClock;
  let closed: Promise<void> | undefined;
  const server = createServer((request, response) => {
    void handle(routes, clock, request, response, () => closed !== undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

/**
 * Reads the body up to `limit` bytes. Past it, answers `too_large` and leaves the stream flowing, so the
 * caller can drain it.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      request.off('data', onData).off('end', onEnd).off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        resolve('too_large');
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    if (Number(request.headers['content-length']) > limit) return resolve('too_large');
    request.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/**
 * 413 with `Connection: close`, written at once; the response ends only once the rest of the body has been
 * read (up to `MAX_DRAINED_BODY`), so that closing the connection cannot reset it under a client that is
 * still sending: a keep-alive client reads the 413 and opens a new connection for its next request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-9.6 (tear-down)
 */
function refuseOversized(request: IncomingMessage, response: ServerResponse): void {
  const body = `body larger than ${MAX_LOCAL_BODY} bytes`;
  response.writeHead(413, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.write(body);
  if (request.complete) {
    response.end();
    return;
  }
  let drained = 0;
  request
    .on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > MAX_DRAINED_BODY) request.socket.destroy();
    })
    .once('end', () => response.end())
    .once('error', () => request.socket.destroy());
  request.resume();
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The route whose key has path parameters (`POST /wechat/messages/{appid}`) matching `routeKey`, with the
 * event API Gateway would send it: the template as `routeKey`, the values in `pathParameters`.
 */
function templateRoute(
  routes: Routes,
  event: APIGatewayProxyEventV2
): { route: Route; event: APIGatewayProxyEventV2 } | undefined {
  for (const [key, route] of Object.entries(routes)) {
    if (!key.includes('{')) continue;
    const names: string[] = [];
    const pattern = key
      .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
      .replace(/\{(\w+)\}/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
    const match = new RegExp(`^${pattern}$`).exec(event.routeKey);
    if (!match) continue;
    const pathParameters = Object.fromEntries(
      names.map((name, i) => [name, safeDecode(match[i + 1] as string)])
    );
    return {
      route,
      event: {
        ...event,
        routeKey: key,
        pathParameters,
        requestContext: { ...event.requestContext, routeKey: key },
      },
    };
  }
  return undefined;
}

/** The route's answer, or 404/405 when no route matches. */
async function answer(routes: Routes, event: APIGatewayProxyEventV2): Promise<HttpResult> {
  const route = routes[event.routeKey] ?? routes[lambdaRouteKey(event.routeKey)];
  if (route) return route(event);
  const templated = templateRoute(routes, event);
  if (templated) return templated.route(templated.event);
  const known = Object.keys(routes).some((key) => key.endsWith(` ${event.rawPath}`));
  return {
    statusCode: known ? 405 : 404,
    headers: { 'content-type': 'text/plain' },
    body: known ? 'method not allowed' : 'not found',
  };
}

async function handle(
  routes: Routes,
  clock: Clock,
  request: IncomingMessage,
  response: ServerResponse,
  closing: () => boolean
): Promise<void> {
  let result: HttpResult;
  try {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(request, MAX_LOCAL_BODY);
    if (body === 'too_large') {
      refuseOversized(request, response);
      return;
    }
    result = await answer(routes, toApiGatewayEvent(request, url, body, clock));
  } catch (error) {
    process.emitWarning(`local route failed: ${(error as Error).name}`);
    result = { statusCode: 500, headers: { 'content-type': 'text/plain' }, body: 'internal error' };
  }
  if (response.headersSent) {
    response.end();
    return;
  }
  // Once the server is closing, an answer in flight ends its connection instead of keeping it alive.
  const close = closing() ? { connection: 'close' } : {};
  response.writeHead(result.statusCode ?? 200, { ...(result.headers as object), ...close });
  response.end(
    result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? '')
  );
}
