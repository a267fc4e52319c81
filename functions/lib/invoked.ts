import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { observability } from './observability';

/** Wraps a directly invoked or scheduled handler in middy (the same shape as `http()`). */
export function invoked<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>
) {
  return middy<TEvent, TResult>(handler);
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
 * What only a deployed Lambda needs: the request id on every log line, and the invocation's EMF metrics
 * published when it ends (also when it throws). The sandbox and tests use the handlers without it.
 */
// biome-ignore lint/suspicious/noExplicitAny: applies to every middy handler shape
export function inLambda<T extends middy.MiddyfiedHandler<any, any, any, any>>(handler: T): T {
  const { logger, metrics } = observability();
  return handler.use(injectLambdaContext(logger)).use(publishMetrics(metrics)) as T;
}
