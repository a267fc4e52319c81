/**
 * The logging and metrics ports that services accept. The Lambda edge backs them with Powertools
 * (structured JSON, CloudWatch EMF); tests back them with recorders. Fields must never hold a token, ticket,
 * secret, auth code or decrypted payload: pass appids, errcodes and counts only.
 */
export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Metric names the alarms in `infra/` watch. Keep them in sync with `infra/constructs/alarms.ts`. */
export const MetricName = {
  TicketAgeSeconds: 'TicketAgeSeconds',
  TicketReceived: 'TicketReceived',
  TicketUnavailable: 'TicketUnavailable',
  ComponentRefreshSucceeded: 'ComponentRefreshSucceeded',
  ComponentRefreshFailed: 'ComponentRefreshFailed',
  AuthorizerRefreshSucceeded: 'AuthorizerRefreshSucceeded',
  AuthorizerRefreshFailed: 'AuthorizerRefreshFailed',
  WhitelistRejected: 'WhitelistRejected',
  NeedsReauthorization: 'NeedsReauthorization',
  RefreshTokenRecovered: 'RefreshTokenRecovered',
  AuthorizationCompleted: 'AuthorizationCompleted',
  CallbackRejected: 'CallbackRejected',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

export interface Metrics {
  /** Adds `value` (default 1) to a count metric, optionally with one `ErrorCode` dimension. */
  count(name: MetricName, value?: number, errorCode?: string): void;
  /** Records a gauge-like value such as an age in seconds. */
  gauge(name: MetricName, value: number, unit: 'Seconds' | 'Count'): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
export const noMetrics: Metrics = { count() {}, gauge() {} };
