import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execute } from '../../../cli/commands';
import { relative, span, statusText, table } from '../../../cli/format';
import type { StatusAnswer } from '../../../shared/jobs/job-contract';
import { ROOT } from '../../e2e/sandbox-process';
import { COMPONENT_APPID } from '../../support/test-ids';

const NOW = '2026-11-25T10:00:00.000Z';

function status(counts: Partial<StatusAnswer['authorizers']>, cursor?: string): StatusAnswer {
  return {
    now: NOW,
    componentAppId: COMPONENT_APPID,
    ticket: null,
    componentToken: null,
    authorizers: {
      total: 0,
      active: 0,
      revoked: 0,
      needs_reauthorization: 0,
      without_api_permission: 0,
      awaiting_authorization_code: 0,
      ...counts,
      ...(cursor ? { cursor } : {}),
    },
    lastRefresh: null,
    lastReconcile: null,
    lastQuota: null,
  };
}

function capture(errIsTty = false) {
  const text = { out: '', err: '' };
  return {
    text,
    io: {
      out: (t: string) => {
        text.out += t;
      },
      err: (t: string) => {
        text.err += t;
      },
      errIsTty,
    },
  };
}

describe('status over a table counted in several invocations', () => {
  /** The service's answers: the counts of three parts of the table, chained by cursors. */
  const pages: Record<string, StatusAnswer> = {
    first: status({ total: 1000, active: 990, revoked: 10 }, 'c1'),
    c1: status({ total: 1000, active: 900, needs_reauthorization: 100 }, 'c2'),
    c2: status({ total: 5, without_api_permission: 5 }),
  };
  const jobs: unknown[] = [];
  const invoke = async (job: Record<string, unknown>) => {
    jobs.push(job);
    return pages[(job.cursor as string | undefined) ?? 'first'];
  };

  it('follows the cursor, sums the counts and shows progress on stderr', async () => {
    const { io, text } = capture();
    await execute({ name: 'status' }, invoke, io, true);
    expect(jobs).toEqual([
      { job: 'status' },
      { job: 'status', cursor: 'c1' },
      { job: 'status', cursor: 'c2' },
    ]);
    expect(JSON.parse(text.out).authorizers).toEqual({
      total: 2005,
      active: 1890,
      revoked: 10,
      needs_reauthorization: 100,
      without_api_permission: 5,
      awaiting_authorization_code: 0,
    });
    expect(text.err).toBe('counted 1000 authorizers so far…\ncounted 2000 authorizers so far…\n');
  });

  it('rewrites one progress line on a terminal and clears it at the end', async () => {
    const { io, text } = capture(true);
    await execute({ name: 'status' }, invoke, io, false);
    expect(text.err).toBe(
      '\r\x1b[Kcounted 1000 authorizers so far…\r\x1b[Kcounted 2000 authorizers so far…\r\x1b[K'
    );
    expect(text.out).toMatch(
      /\nauthorizers {6}2005: 1890 active, 10 revoked, 100 needs_reauthorization, 5 without_api_permission, 0 awaiting_authorization_code\n/
    );
  });
});

describe('formatting for people', () => {
  it('writes spans and relative times', () => {
    expect(span(270)).toBe('270 ms');
    expect(span(45_000)).toBe('45 s');
    expect(span(12 * 60_000 + 5_000)).toBe('12 min');
    expect(span(93 * 60_000)).toBe('1 h 33 min');
    expect(span(2 * 3_600_000)).toBe('2 h');
    expect(span(76 * 3_600_000)).toBe('3 d 4 h');
    expect(relative('2026-11-25T11:33:00.000Z', NOW)).toBe('in 1 h 33 min');
    expect(relative('2026-11-25T09:48:00.000Z', NOW)).toBe('12 min ago');
    expect(relative('2026-11-25T10:00:00.400Z', NOW)).toBe('just now');
    expect(relative(null, NOW)).toBe('-');
  });

  it('says a reconciliation failed rather than showing its missing counts as zeros', () => {
    const failed = { finishedAt: '2026-11-25T09:50:00.000Z', summary: { error: 'wechat_quota' } };
    expect(statusText({ ...status({}), lastReconcile: failed })).toMatch(
      /\nlast reconcile +10 min ago: FAILED \(wechat_quota\): the sweeps retry it every 30 minutes\n/
    );
  });

  it('shows WeChat’s quota busiest API first, and says when one is near its limit', () => {
    const checked = {
      finishedAt: '2026-11-25T09:50:00.000Z',
      summary: {
        apis: {
          api_query_auth: { dailyLimit: 10_000, used: 100, share: 0.01 },
          api_authorizer_token: { dailyLimit: 2000, used: 1700, share: 0.85 },
        },
        highestShare: 0.85,
        nearLimit: true,
        failed: { api_get_authorizer_list: 'wechat_busy' },
      },
    };
    expect(statusText({ ...status({}), lastQuota: checked })).toMatch(
      /\nWeChat quota +10 min ago: NEAR THE LIMIT: api_authorizer_token 85 % \(1700\/2000\), api_query_auth 1 % \(100\/10000\); unknown: api_get_authorizer_list$/
    );
  });

  it('aligns every column to its widest cell', () => {
    expect(
      table(
        ['A', 'LONG HEADER', 'C'],
        [
          ['wide cell', 'x', ''],
          ['y', 'z', 'last'],
        ]
      )
    ).toBe(
      ['A          LONG HEADER  C', 'wide cell  x', 'y          z            last'].join('\n')
    );
  });
});

it('the CLI depends on the service only through the job contract', () => {
  const files = readdirSync(join(ROOT, 'cli')).filter((f) => f.endsWith('.ts'));
  const imports = files.flatMap((file) =>
    [...readFileSync(join(ROOT, 'cli', file), 'utf8').matchAll(/^import (type )?[^'"]*'([^']+)'/gm)]
      .filter((m) => m[2]?.startsWith('../'))
      .map((m) => `${m[1] ? 'type ' : ''}${m[2]}`)
  );
  expect(imports.length).toBeGreaterThan(0);
  const runtime = imports.filter((i) => !i.startsWith('type '));
  // The callers' client package is not the service: the CLI shares its reading of AWS SDK errors.
  expect([...new Set(runtime)].sort()).toEqual([
    '../client/src/errors',
    '../shared/config',
    '../shared/jobs/job-contract',
  ]);
});
