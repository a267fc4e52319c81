import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Log, LogFields, MetricName, Metrics as MetricsPort } from '../../shared/log';

/** Field names that could ever carry a credential; their values are replaced before anything is written. */
const SENSITIVE =
  /token|ticket|secret|aes_?key|encrypt|plaintext|password|auth_?code|authorization_?code/i;

/** Replaces the values of credential-like fields, so a mistake upstream still leaks nothing. */
export function redact(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return undefined;
  const safe: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    safe[name] = SENSITIVE.test(name) && value !== undefined ? '[redacted]' : value;
  }
  return safe;
}

export const SERVICE_NAME = 'wechat-token-service';
export const METRICS_NAMESPACE = 'WeChatTokenService';

/**
 * Structured JSON logs (Powertools Logger) behind the services' `Log` port, with redaction.
 * @see https://docs.powertools.aws.dev/lambda/typescript/latest/core/logger/
 */
export function powertoolsLog(logger: Logger): Log {
  return {
    debug: (message, fields) => logger.debug(message, redact(fields) ?? {}),
    info: (message, fields) => logger.info(message, redact(fields) ?? {}),
    warn: (message, fields) => logger.warn(message, redact(fields) ?? {}),
    error: (message, fields) => logger.error(message, redact(fields) ?? {}),
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
    count(name: MetricName, value = 1, errorCode?: string) {
      metrics.addMetric(name, MetricUnit.Count, value);
      if (errorCode) {
        const single = metrics.singleMetric();
        single.addDimension('ErrorCode', errorCode);
        single.addMetric(name, MetricUnit.Count, value);
      }
    },
    gauge(name: MetricName, value: number, unit: 'Seconds' | 'Count') {
      metrics.addMetric(name, unit === 'Seconds' ? MetricUnit.Seconds : MetricUnit.Count, value);
    },
  };
}

let shared: { logger: Logger; metrics: Metrics } | undefined;

/** One Logger and one Metrics per container, created on first use (nothing runs at import time). */
export function observability(): { logger: Logger; metrics: Metrics } {
  shared ??= {
    logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME }),
    metrics: new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
      serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
    }),
  };
  return shared;
}
