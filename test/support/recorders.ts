import type { Log, LogFields, MetricName, Metrics } from '../../shared/log';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}
export type RecordedLog = Log & { entries: LogEntry[]; text(): string };

/** A `Log` that keeps every entry for assertions. */
export function recordingLog(): RecordedLog {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (message: string, fields: LogFields = {}) => {
      entries.push({ level, message, fields });
    };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () =>
      entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.fields)}`).join('\n'),
  };
}

export type RecordedMetrics = Metrics & {
  counts: Map<string, number>;
  gauges: { name: MetricName; value: number }[];
  total(name: MetricName, errorCode?: string): number;
};

/** A `Metrics` that sums counts by name and by name + error code. */
export function recordingMetrics(): RecordedMetrics {
  const counts = new Map<string, number>();
  const gauges: { name: MetricName; value: number }[] = [];
  const add = (key: string, value: number) => counts.set(key, (counts.get(key) ?? 0) + value);
  return {
    counts,
    gauges,
    count(name, value = 1, errorCode, api) {
      add(name, value);
      if (errorCode) add(`${name}#${errorCode}`, value);
      if (api) add(`${name}@${api}${errorCode ? `#${errorCode}` : ''}`, value);
    },
    gauge(name, value) {
      gauges.push({ name, value });
    },
    total: (name, errorCode) => counts.get(errorCode ? `${name}#${errorCode}` : name) ?? 0,
  };
}
