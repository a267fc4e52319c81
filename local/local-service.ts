import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { makeHandler as makeAuthEvent } from '../functions/auth-event';
import { makeHandler as makeAuthorizeCallback } from '../functions/authorize-callback';
import { makeHandler as makeAuthorizePage } from '../functions/authorize-page';
import { makeHandler as makeGetToken } from '../functions/get-token';
import type { Deps } from '../functions/lib/deps';
import type { HttpResult } from '../functions/lib/http';
import { makeHandler as makeRefresh } from '../functions/refresh';

/** The sandbox accepts bodies up to this size before handing them to a handler (which has its own limit). */
const MAX_LOCAL_BODY = 1024 * 1024;

type Route = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;

const lambdaContext = (timeoutMs: number): Context =>
  ({
    getRemainingTimeInMillis: () => timeoutMs,
    functionName: 'local',
    awsRequestId: 'local',
  }) as unknown as Context;

/** Turns a Node request into the API Gateway HTTP API (payload v2) event the Lambdas receive. */
export function toApiGatewayEvent(
  request: IncomingMessage,
  url: URL,
  body: Buffer
): APIGatewayProxyEventV2 {
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
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
  };
}

/** The parsed JSON body, or undefined when there is none or it is not JSON. */
function parseJson(body: string | undefined): unknown {
  try {
    return JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
}

function json(status: number, value: unknown): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(value),
  };
}

/**
 * The service's HTTP routes on one local server, calling the same handler modules the stack deploys:
 * `POST /wechat/events`, `GET /authorize`, `GET /authorize/callback`. Two local-only routes stand in for what
 * AWS does: `POST /local/token` (the get-token Lambda invoke; answers exactly what the Lambda returns) and
 * `POST /local/refresh` (one scheduled refresh run; answers its summary; with
 * `{"job":"reconcile"}` the authorizer reconciliation instead).
 */
export function createLocalRoutes(deps: Deps, options: { refreshTimeoutMs?: number } = {}) {
  const getDeps = () => Promise.resolve(deps);
  const authEvent = makeAuthEvent(getDeps);
  const authorizePage = makeAuthorizePage(getDeps);
  const authorizeCallback = makeAuthorizeCallback(getDeps);
  const getToken = makeGetToken(getDeps);
  const refresh = makeRefresh(getDeps);
  const context = lambdaContext(options.refreshTimeoutMs ?? 5 * 60_000);
  const routes: Record<string, Route> = {
    'POST /wechat/events': (event) => authEvent(event, context),
    'GET /authorize': (event) => authorizePage(event, context),
    'GET /authorize/callback': (event) => authorizeCallback(event, context),
    'POST /local/token': async (event) => {
      const payload = parseJson(event.body);
      if (payload === undefined) {
        return json(400, { error: { code: 'invalid_request', message: 'body must be JSON' } });
      }
      return json(200, await getToken(payload, context));
    },
    'POST /local/refresh': async (event) => {
      const body = parseJson(event.body) as { job?: unknown } | null | undefined;
      const job = body?.job === 'reconcile' ? { job: 'reconcile' } : {};
      try {
        return json(200, await refresh(job, context));
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
  close(): Promise<void>;
}

/** Serves `createLocalRoutes` on 127.0.0.1. */
export async function startLocalService(
  deps: Deps,
  options: { port?: number; refreshTimeoutMs?: number } = {}
): Promise<LocalService> {
  const routes = createLocalRoutes(deps, options);
  const server = createServer((request, response) => {
    void handle(routes, request, response);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(
  routes: Record<string, Route>,
  request: IncomingMessage,
  response: ServerResponse
): Promise<void> {
  try {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > MAX_LOCAL_BODY) {
        response.writeHead(413, { 'content-type': 'text/plain' }).end('body too large');
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const route = routes[`${request.method} ${url.pathname}`];
    if (!route) {
      const known = Object.keys(routes).some((key) => key.endsWith(` ${url.pathname}`));
      response
        .writeHead(known ? 405 : 404, { 'content-type': 'text/plain' })
        .end(known ? 'method not allowed' : 'not found');
      return;
    }
    const result = await route(toApiGatewayEvent(request, url, Buffer.concat(chunks)));
    response.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
    response.end(
      result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? '')
    );
  } catch (error) {
    if (!response.headersSent) {
      response.writeHead(500, { 'content-type': 'text/plain' });
    }
    response.end('internal error');
    process.emitWarning(`local route failed: ${(error as Error).name}`);
  }
}
