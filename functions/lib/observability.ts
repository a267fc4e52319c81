import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type Log,
  type MetricName,
  type Metrics as MetricsPort,
  redactFields,
} from '../../shared/log';

export const SERVICE_NAME = 'wechat-token-service';
export const METRICS_NAMESPACE = 'WeChatTokenService';

/**
 * Where an API Gateway HTTP API event (payload 2.0) carries the API's request id, the one an operator finds
 * in the API's access log and in a caller's error report. Powertools calls the same path
 * `correlationPaths.API_GATEWAY_HTTP`.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 */
export const API_REQUEST_ID_PATH = 'requestContext.requestId';

/** What an API Gateway request id looks like (`JKJaXmPLvHcESHA=`); anything else is not written. */
const REQUEST_ID = /^[A-Za-z0-9=+/_.-]{1,64}$/;

/**
 * Powertools Logger's correlation-id search for a dotted path such as {@link API_REQUEST_ID_PATH}. Powertools'
 * own `search` needs the optional `@aws-lambda-powertools/jmespath` engine, a bundle dependency we would
 * ship only to read one property.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/core/logger/#setting-a-correlation-id
 */
export function searchCorrelationId(path: string, event: unknown): string | undefined {
  let value = event;
  for (const key of path.split('.')) {
    if (!value || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

/**
 * Structured JSON logs (Powertools Logger) behind the services' `Log` port. Every entry's fields go through
 * `redactFields` (shared/log.ts): a string is written only when it is of its field's declared kind.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/core/logger/
 */
export function powertoolsLog(logger: Logger): Log {
  return {
    debug: (message, fields) => logger.debug(message, redactFields(fields)),
    info: (message, fields) => logger.info(message, redactFields(fields)),
    warn: (message, fields) => logger.warn(message, redactFields(fields)),
    error: (message, fields) => logger.error(message, redactFields(fields)),
  };
}

/**
 * CloudWatch EMF metrics (Powertools Metrics) behind the services' `Metrics` port. Counts go to the
 * invocation's metric set (published by the middy wrapper); a count with an error code is also written as
 * a single metric with an `ErrorCode` dimension, so dashboards can split failures by cause.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/core/metrics/
 */
export function powertoolsMetrics(metrics: Metrics): MetricsPort {
  return {
    count(name: MetricName, value = 1, errorCode?: string, api?: string) {
      metrics.addMetric(name, MetricUnit.Count, value);
      if (errorCode || api) {
        const single = metrics.singleMetric();
        if (api) single.addDimension('Api', api);
        if (errorCode) single.addDimension('ErrorCode', errorCode);
        single.addMetric(name, MetricUnit.Count, value);
      }
    },
    gauge(name: MetricName, value: number, unit: 'Seconds' | 'Count' | 'Percent') {
      metrics.addMetric(name, MetricUnit[unit], value);
    },
  };
}

let shared: { logger: Logger; metrics: Metrics } | undefined;

/** One Logger and one Metrics per container, created on first use (nothing runs at import time). */
export function observability(): { logger: Logger; metrics: Metrics } {
  shared ??= {
    logger: new Logger({
      serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
      correlationIdSearchFn: searchCorrelationId,
    }),
    metrics: new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
      serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
    }),
  };
  return shared;
}
