import type { ReconcileSummary } from '../shared/authorization/reconcile';
import type { AuthorizerView, StatusAnswer } from '../shared/jobs/job-contract';
import type { RefreshSummary } from '../shared/jobs/scheduled-refresh';
import type { QuotaSummary } from '../shared/jobs/wechat-quota';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A span for people: `270 ms`, `45 s`, `12 min`, `1 h 33 min`, `3 d 4 h`. */
export function span(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < MINUTE) return `${Math.round(abs / 1000)} s`;
  if (abs < HOUR) return `${Math.floor(abs / MINUTE)} min`;
  if (abs < DAY) {
    const minutes = Math.floor((abs % HOUR) / MINUTE);
    return `${Math.floor(abs / HOUR)} h${minutes ? ` ${minutes} min` : ''}`;
  }
  const hours = Math.floor((abs % DAY) / HOUR);
  return `${Math.floor(abs / DAY)} d${hours ? ` ${hours} h` : ''}`;
}

/** `in 1 h 33 min` / `12 min ago` / `just now` from the service's `now`; `-` for no time. */
export function relative(time: string | null, now: string): string {
  if (time === null) return '-';
  const delta = Date.parse(time) - Date.parse(now);
  if (Math.abs(delta) < 1000) return 'just now';
  return delta >= 0 ? `in ${span(delta)}` : `${span(delta)} ago`;
}

/** An ISO time to the second: `2026-11-25T10:00:00Z`. */
const instant = (time: string) => time.replace(/\.\d{3}Z$/, 'Z');

/** `2026-11-25T10:00:00Z (in 1 h 33 min)`; `-` for no time. */
export function when(time: string | null, now: string): string {
  if (time === null) return '-';
  return `${instant(time)} (${relative(time, now)})`;
}

/** Lines of `key  value`, the values aligned. */
export function fields(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`.trimEnd()).join('\n');
}

/** A table with a header row, every column as wide as its widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => row[i]?.length ?? 0))
  );
  return [headers, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()
    )
    .join('\n');
}

const permissionList = (ids: readonly number[]) => (ids.length ? ids.join(',') : '-');

/** `list` for people: one row per authorizer, times relative to the service's clock. */
export function authorizerTable(authorizers: readonly AuthorizerView[], now: string): string {
  return table(
    ['APPID', 'STATE', 'PERMISSIONS', 'LAST REFRESH', 'NEXT REFRESH', 'EXPIRES', 'LAST ERROR'],
    authorizers.map((a) => [
      a.authorizerAppId,
      a.status,
      permissionList(a.permissions),
      relative(a.lastRefreshAt, now),
      relative(a.nextRefreshAt, now),
      relative(a.expiresAt, now),
      a.lastErrorCode ?? '-',
    ])
  );
}

/** `show` and `refresh` for people. */
export function authorizerFields(a: AuthorizerView, now: string): [string, string][] {
  return [
    ['authorizer', a.authorizerAppId],
    ['state', a.status],
    ['permissions', a.permissions.length ? a.permissions.join(', ') : '-'],
    ['authorized', when(a.authorizedAt, now)],
    ['last refresh', when(a.lastRefreshAt, now)],
    ['next refresh', when(a.nextRefreshAt, now)],
    ['promised until', when(a.expiresAt, now)],
    ['last error', a.lastErrorCode ?? '-'],
    ...(a.endedAt ? ([['ended', when(a.endedAt, now)]] as [string, string][]) : []),
  ];
}

function sweep(summary: Partial<RefreshSummary>): string {
  const a = summary.authorizers;
  const failed = Object.entries(a?.failed ?? {})
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  const codes = summary.authCodes;
  return [
    `component ${summary.component ?? '?'}`,
    `${a?.seen ?? 0} due, ${a?.refreshed ?? 0} refreshed, ${a?.skipped ?? 0} skipped, failed: ${failed || 'none'}${a?.truncated ? ' (truncated)' : ''}`,
    `codes ${codes?.exchanged ?? 0} exchanged, ${codes?.pending ?? 0} pending`,
    ...(summary.systemicError ? [`STOPPED: ${summary.systemicError}`] : []),
    `took ${span(summary.durationMs ?? 0)}`,
  ].join('; ');
}

function reconciliation(summary: Partial<ReconcileSummary> & { error?: string }): string {
  if (summary.error) return `FAILED (${summary.error}): the sweeps retry it every 30 minutes`;
  return `${summary.listed ?? 0} listed, ${summary.imported ?? 0} imported, ${summary.reactivated ?? 0} reactivated, ${summary.failed ?? 0} failed${summary.truncated ? ' (truncated)' : ''}`;
}

/** `status` for people. */
export function statusText(s: StatusAnswer): string {
  const { now, ticket, componentToken: token, authorizers } = s;
  const ticketLine = ticket
    ? `created ${relative(ticket.createdAt, now)}, received ${relative(ticket.receivedAt, now)}: ${
        ticket.usable ? 'usable' : 'NOT usable (older than 12 h): check the event URL'
      }`
    : 'none received yet: check the event URL in the WeChat console';
  const tokenLine = token
    ? [
        token.secondsLeft > 0 ? `promised until ${when(token.expiresAt, now)}` : 'none servable',
        `next renewal ${relative(token.nextRefreshAt, now)}`,
        ...(token.lastErrorCode ? [`last renewal failed: ${token.lastErrorCode}`] : []),
      ].join('; ')
    : 'none yet';
  const counts = [
    `${authorizers.active} active`,
    `${authorizers.revoked} revoked`,
    `${authorizers.needs_reauthorization} needs_reauthorization`,
    `${authorizers.without_api_permission} without_api_permission`,
    `${authorizers.awaiting_authorization_code} awaiting_authorization_code`,
  ].join(', ');
  const never = 'none recorded yet';
  const { lastRefresh, lastReconcile } = s;
  return fields([
    ['platform', `${s.componentAppId} (service time ${instant(now)})`],
    ['ticket', ticketLine],
    ['component token', tokenLine],
    ['authorizers', `${authorizers.total}: ${counts}`],
    [
      'last sweep',
      lastRefresh
        ? `${relative(lastRefresh.finishedAt, now)}: ${sweep(lastRefresh.summary as Partial<RefreshSummary>)}`
        : never,
    ],
    [
      'last reconcile',
      lastReconcile
        ? `${relative(lastReconcile.finishedAt, now)}: ${reconciliation(lastReconcile.summary as Partial<ReconcileSummary>)}`
        : never,
    ],
    [
      'WeChat quota',
      s.lastQuota
        ? `${relative(s.lastQuota.finishedAt, now)}: ${quota(s.lastQuota.summary as Partial<QuotaSummary>)}`
        : never,
    ],
  ]);
}

/** The busiest APIs first: `api_authorizer_token 81 % (1620/2000)`; APIs WeChat could not report on last. */
function quota(summary: Partial<QuotaSummary>): string {
  const used = Object.entries(summary.apis ?? {})
    .sort(([, a], [, b]) => (b?.share ?? 0) - (a?.share ?? 0))
    .map(
      ([api, use]) =>
        `${api} ${Math.round((use?.share ?? 0) * 100)} % (${use?.used}/${use?.dailyLimit})`
    );
  const failed = Object.keys(summary.failed ?? {});
  const warn = summary.nearLimit ? 'NEAR THE LIMIT: ' : '';
  return `${warn}${used.join(', ') || 'no figures'}${failed.length ? `; unknown: ${failed.join(', ')}` : ''}`;
}

/** `reconcile` for people. */
export function reconcileText(summary: ReconcileSummary): string {
  return fields([
    ['listed by WeChat', String(summary.listed)],
    ['imported', String(summary.imported)],
    ['reactivated', String(summary.reactivated)],
    ['without refresh token', String(summary.withoutRefreshToken)],
    ['failed', String(summary.failed)],
    ['truncated', summary.truncated ? 'yes: run it again' : 'no'],
  ]);
}
