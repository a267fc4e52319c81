import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorCode, PayloadTooLargeError } from '../../shared/errors';
import type { MetricName } from '../../shared/log';
import { failureFields } from '../../shared/report-wechat-failure';
import type { InvocationContext } from './deadline';
import type { GetDeps } from './deps';
import { toHttpFailure } from './http-errors';
import { servesHttpApi } from './invoked';
import { observability, powertoolsLog } from './observability';
import { errorPage, viewerOf } from './pages';

export type HttpResult = APIGatewayProxyStructuredResultV2;
export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context?: InvocationContext
) => Promise<HttpResult>;

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'strict-origin-when-cross-origin',
};

function respond(
  status: number,
  headers: Record<string, string>,
  body: string,
  extra: Record<string, string>
): HttpResult {
  return { statusCode: status, headers: { ...headers, ...SECURITY_HEADERS, ...extra }, body };
}

/** A plain-text answer (WeChat wants exactly `success`). */
export function text(status: number, body: string, headers: Record<string, string> = {}) {
  return respond(status, { 'content-type': 'text/plain; charset=utf-8' }, body, headers);
}

/**
 * An HTML answer. The CSP allows no scripts; the Referrer-Policy keeps the origin on cross-site clicks,
 * because WeChat's authorization page checks that the click came from the authorization domain.
 */
export function html(status: number, body: string, headers: Record<string, string> = {}) {
  return respond(status, HTML_HEADERS, body, headers);
}

/** The raw body, base64-decoded when API Gateway encoded it, refused above `maxBytes`. */
export function readBody(event: APIGatewayProxyEventV2, maxBytes: number): string {
  const raw = event.body ?? '';
  const encodedLimit = event.isBase64Encoded ? Math.ceil((maxBytes * 4) / 3) + 4 : maxBytes * 4;
  if (raw.length > encodedLimit)
    throw new PayloadTooLargeError(`body is larger than ${maxBytes} bytes`);
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > maxBytes)
    throw new PayloadTooLargeError(`body is larger than ${maxBytes} bytes`);
  return bytes.toString('utf8');
}

/** A case-insensitive header read (API Gateway v2 lower-cases, the sandbox may not). */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/**
 * Our own origin as the browser sees it, for the authorization redirect_uri. `Host` is set by API Gateway
 * (the custom domain when one is mapped); a client-sent `X-Forwarded-Host` is deliberately ignored.
 */
export function publicOrigin(event: APIGatewayProxyEventV2): string {
  const host = header(event, 'host') ?? event.requestContext?.domainName;
  const proto = header(event, 'x-forwarded-proto') ?? 'https';
  return `${proto === 'http' ? 'http' : 'https'}://${host}`;
}

/**
 * Wraps an HTTP handler in middy with the one error path: a thrown domain error becomes the status and safe
 * message from `http-errors.ts`, as text or as an HTML page; it is logged once, with `failureFields` (its
 * code and WeChat details, e.g. the URL it could not reach) but never a credential. Marked as an HTTP API
 * handler, so that in Lambda every line it writes carries the API request id (`inLambda`).
 */
export function http(
  getDeps: GetDeps,
  handler: HttpHandler,
  options: {
    format: 'text' | 'html';
    route: string;
    /** Counted, by error code, for each request refused with a 4xx (WeChat's push URLs). */
    rejectedMetric?: MetricName;
  }
) {
  const wrapped = middy<APIGatewayProxyEventV2, HttpResult>(handler).onError(async (request) => {
    const error = request.error;
    const failure = toHttpFailure(error);
    const fields = { route: options.route, status: failure.status, ...failureFields(error) };
    const deps = await getDeps().catch(() => undefined);
    const log = deps?.log ?? powertoolsLog(observability().logger);
    if (failure.status >= 500) {
      log.error('request failed', { ...fields, errorName: (error as Error | undefined)?.name });
    } else {
      log.warn('request rejected', fields);
      if (options.rejectedMetric) deps?.metrics.count(options.rejectedMetric, 1, errorCode(error));
    }
    request.response =
      options.format === 'html'
        ? html(
            ...errorPage(
              viewerOf((name) => header(request.event, name), deps?.config.platformDisplayName),
              failure,
              errorCode(error)
            )
          )
        : text(failure.status, failure.message, failure.headers);
  });
  return servesHttpApi(wrapped);
}
