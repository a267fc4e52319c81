import { describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../../functions/lib/observability';
import {
  METRICS_NAMESPACE as INFRA_NAMESPACE,
  SERVICE_NAME as INFRA_SERVICE,
  METRIC,
} from '../../../infra/constructs/telemetry';
import { MetricName } from '../../../shared/log';

describe('the metrics contract between the runtime and the alarms', () => {
  it('alarms watch only metric names the runtime emits', () => {
    const emitted = new Set<string>(Object.values(MetricName));
    for (const name of Object.values(METRIC)) expect(emitted, name).toContain(name);
  });

  it('uses the same namespace and service dimension on both sides', () => {
    expect(INFRA_NAMESPACE).toBe(METRICS_NAMESPACE);
    expect(INFRA_SERVICE).toBe(SERVICE_NAME);
  });
});
