import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { COMPONENT_APPID } from '../../support/test-ids';

const env = {
  TOKEN_TABLE_NAME: 'tokens',
  COMPONENT_APPID,
  COMPONENT_SECRET_ID: 'component-secret',
};

describe('loadConfig: the page functions’ settings', () => {
  it('leaves the display name and the budgets unset by default', () => {
    const config = loadConfig(env);
    expect(config.platformDisplayName).toBeUndefined();
    expect(config.publicRouteBudgetPerMinute).toBeUndefined();
    expect(config.publicRouteBudgetPerDay).toBeUndefined();
  });

  it('reads PLATFORM_DISPLAY_NAME (trimmed) and the two budgets', () => {
    expect(
      loadConfig({
        ...env,
        PLATFORM_DISPLAY_NAME: '  示例科技 ',
        PUBLIC_ROUTE_BUDGET_PER_MINUTE: '5',
        PUBLIC_ROUTE_BUDGET_PER_DAY: '300',
      })
    ).toMatchObject({
      platformDisplayName: '示例科技',
      publicRouteBudgetPerMinute: 5,
      publicRouteBudgetPerDay: 300,
    });
  });

  it('names every bad value at once', () => {
    expect(() =>
      loadConfig({
        ...env,
        PLATFORM_DISPLAY_NAME: 'x'.repeat(41),
        PUBLIC_ROUTE_BUDGET_PER_MINUTE: '0',
        PUBLIC_ROUTE_BUDGET_PER_DAY: '1e3',
      })
    ).toThrow(
      'PLATFORM_DISPLAY_NAME must be 1-40 characters without control characters; PUBLIC_ROUTE_BUDGET_PER_MINUTE must be a whole number from 1 to 1000; PUBLIC_ROUTE_BUDGET_PER_DAY must be a whole number from 1 to 100000'
    );
  });

  it.each(['a\nb', 'tab\there', '-5', '20.5', '1001'])('refuses %j', (value) => {
    const variable = /^[-\d.]+$/.test(value)
      ? 'PUBLIC_ROUTE_BUDGET_PER_MINUTE'
      : 'PLATFORM_DISPLAY_NAME';
    expect(() => loadConfig({ ...env, [variable]: value })).toThrow(variable);
  });
});
