import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { startLocalDynamo } from '../../../../local/local-dynamo';
import { publicRouteBudget, spendPublicBudget } from '../../../../shared/budgets/public-budget';
import {
  PUBLIC_ROUTE_BUDGET_PER_DAY,
  PUBLIC_ROUTE_BUDGET_PER_MINUTE,
} from '../../../../shared/policy';
import { DynamoDbTokenStore } from '../../../../shared/store/dynamodb-token-store';
import { MemoryTokenStore } from '../../../support/memory-token-store';
import { recordingLog } from '../../../support/recorders';
import { COMPONENT_APPID as C } from '../../../support/test-ids';

/** 2027-01-15 23:59:00 in Beijing (15:59 UTC): one minute before WeChat's quotas restart. */
const LAST_MINUTE = Date.parse('2027-01-15T15:59:00Z');

function budgetContext(now: number) {
  const clock = { now };
  const store = new MemoryTokenStore();
  const log = recordingLog();
  return { clock, store, log, ctx: { componentAppId: C, store, clock: () => clock.now, log } };
}

describe('spendPublicBudget', () => {
  it('grants the minute’s budget, then answers busy until the minute ends', async () => {
    const { ctx, clock } = budgetContext(LAST_MINUTE - 60_000 + 20_500);
    const budget = { perMinute: 3, perDay: 100 };

    const verdicts = [];
    for (let i = 0; i < 5; i += 1) verdicts.push(await spendPublicBudget(ctx, 'authorize', budget));
    clock.now = LAST_MINUTE;
    const next = await spendPublicBudget(ctx, 'authorize', budget);

    expect(verdicts.map((v) => v.granted)).toEqual([true, true, true, false, false]);
    expect(verdicts[3]).toEqual({ granted: false, window: 'minute', retryAfterSeconds: 40 });
    expect(next).toEqual({ granted: true });
  });

  it('counts each route apart', async () => {
    const { ctx } = budgetContext(LAST_MINUTE);
    const budget = { perMinute: 1, perDay: 100 };

    expect(await spendPublicBudget(ctx, 'authorize', budget)).toEqual({ granted: true });
    expect(await spendPublicBudget(ctx, 'authorize-callback', budget)).toEqual({ granted: true });
    expect((await spendPublicBudget(ctx, 'authorize', budget)).granted).toBe(false);
  });

  it('spends no day units on visitors the minute budget turned away', async () => {
    const { ctx, store } = budgetContext(LAST_MINUTE);

    for (let i = 0; i < 50; i += 1) {
      await spendPublicBudget(ctx, 'authorize', { perMinute: 2, perDay: 100 });
    }

    const dayStart = Date.parse('2027-01-14T16:00:00Z');
    expect(store.budgets.get(`${C}#authorize/day#${dayStart}`)).toBe(2);
    expect(store.budgets.get(`${C}#authorize/minute#${LAST_MINUTE}`)).toBe(2);
  });

  it('closes the route until midnight in Beijing once the day’s budget is spent', async () => {
    const { ctx, clock } = budgetContext(LAST_MINUTE - 3 * 60_000);
    const budget = { perMinute: 10, perDay: 2 };

    await spendPublicBudget(ctx, 'authorize', budget);
    await spendPublicBudget(ctx, 'authorize', budget);
    clock.now = LAST_MINUTE + 30_000;
    const closed = await spendPublicBudget(ctx, 'authorize', budget);
    clock.now = LAST_MINUTE + 60_000;
    const reopened = await spendPublicBudget(ctx, 'authorize', budget);

    expect(closed).toEqual({ granted: false, window: 'day', retryAfterSeconds: 30 });
    expect(reopened).toEqual({ granted: true });
  });

  it('logs a spent budget once per window, not once per visitor', async () => {
    const { ctx, clock, log } = budgetContext(LAST_MINUTE - 120_000);
    const budget = { perMinute: 1, perDay: 100 };

    for (let i = 0; i < 30; i += 1) await spendPublicBudget(ctx, 'authorize-callback', budget);
    clock.now += 60_000;
    for (let i = 0; i < 30; i += 1) await spendPublicBudget(ctx, 'authorize-callback', budget);

    expect(log.entries).toEqual([
      {
        level: 'warn',
        message: 'public route budget spent; visitors get the busy page until the window ends',
        fields: { route: 'authorize-callback', window: 'minute', limit: 1 },
      },
      expect.objectContaining({ level: 'warn' }),
    ]);
  });
});

describe('publicRouteBudget', () => {
  it('takes the configured limits, or the policy’s', () => {
    expect(publicRouteBudget({})).toEqual({
      perMinute: PUBLIC_ROUTE_BUDGET_PER_MINUTE,
      perDay: PUBLIC_ROUTE_BUDGET_PER_DAY,
    });
    expect(
      publicRouteBudget({ publicRouteBudgetPerMinute: 5, publicRouteBudgetPerDay: 50 })
    ).toEqual({ perMinute: 5, perDay: 50 });
  });

  it('keeps a whole day of budget-capped traffic at a tenth of a 10 000-a-day quota', () => {
    const { perMinute, perDay } = publicRouteBudget({});
    expect(Math.min(perMinute * 24 * 60, perDay)).toBeLessThanOrEqual(10_000 / 10);
  });
});

describe('the budget items in DynamoDB', () => {
  it('are one counter per window that DynamoDB’s TTL removes an hour after the window closed', async () => {
    const dynamo = await startLocalDynamo();
    try {
      const table = await dynamo.createTable();
      const store = new DynamoDbTokenStore(dynamo.doc, table);
      const ctx = { componentAppId: C, store, clock: () => LAST_MINUTE + 1, log: recordingLog() };

      await spendPublicBudget(ctx, 'authorize', { perMinute: 5, perDay: 5 });
      await spendPublicBudget(ctx, 'authorize', { perMinute: 5, perDay: 5 });

      const item = await dynamo.doc.send(
        new GetCommand({
          TableName: table,
          Key: { pk: `BUDGET#${C}#authorize/minute#${LAST_MINUTE}` },
        })
      );
      expect(item.Item).toEqual({
        pk: `BUDGET#${C}#authorize/minute#${LAST_MINUTE}`,
        used: 2,
        ttl: (LAST_MINUTE + 60_000) / 1000 + 3600,
      });
    } finally {
      await dynamo.close();
    }
  });
});
