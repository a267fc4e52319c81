import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { API_REQUEST_ID_PATH, observability } from './observability';

/** Wraps a directly invoked or scheduled handler in middy (the same shape as `http()`). */
export function invoked<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>
) {
  return middy<TEvent, TResult>(handler);
}

const httpApiHandlers = new WeakSet<object>();

/**
 * Marks a handler as serving API Gateway HTTP API events, so that {@link inLambda} puts the API's request
 * id on its log lines. Only such handlers get one: get-token's payload is the caller's, and a caller must
 * not be able to choose what is written as our correlation id.
 */
export function servesHttpApi<T extends object>(handler: T): T {
  httpApiHandlers.add(handler);
  return handler;
}

/**
 * Publishes the invocation's EMF metrics when it ends (also when it throws), and only when there are some:
 * Powertools' own `logMetrics` writes a "No application metrics to publish" warning on every invocation
 * without metrics, which for get-token would be one CloudWatch line per token read.
 */
export function publishMetrics(metrics: Metrics): middy.MiddlewareObj {
  const publish = async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: publish, onError: publish };
}

/**
 * What only a deployed Lambda needs, around everything the handler's own wrapper does (so its error path
 * logs with the ids and counts into the published metrics):
 * - the Lambda request id (`function_request_id`), cold start and X-Ray trace id on every log line, and for
 *   HTTP API handlers ({@link servesHttpApi}) the API's request id as `correlation_id`, cleared after each
 *   invocation;
 * - the event is never logged, whatever `POWERTOOLS_LOGGER_LOG_EVENT` says: get-token's carries a token,
 *   the callback's an auth code;
 * - the invocation's EMF metrics published when it ends (also when it throws).
 *
 * The sandbox and tests use the handlers without it.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/core/logger/#capturing-lambda-context-info
 */
// biome-ignore lint/suspicious/noExplicitAny: applies to every middy handler shape
export function inLambda<T extends middy.MiddyfiedHandler<any, any, any, any>>(handler: T): T {
  const { logger, metrics } = observability();
  const http = httpApiHandlers.has(handler);
  return middy(handler)
    .use(
      injectLambdaContext(logger, {
        logEvent: false,
        ...(http ? { correlationIdPath: API_REQUEST_ID_PATH, resetKeys: true } : {}),
      })
    )
    .use(publishMetrics(metrics)) as unknown as T;
}
