import type { ReconcileSummary } from '../shared/authorization/reconcile';
import type {
  ListAnswer,
  RefreshAnswer,
  ShowAnswer,
  StatusAnswer,
} from '../shared/jobs/job-contract';
import type { Command } from './args';
import type { Invoke } from './connection';
import {
  authorizerFields,
  authorizerTable,
  fields,
  reconcileText,
  statusText,
  when,
} from './format';

/** Where a command writes: results on `out`, progress and notes on `err`. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal: progress rewrites one line instead of adding lines. */
  errIsTty: boolean;
}

/** One progress line on stderr, rewritten in place on a terminal. */
function progress(io: Io) {
  let open = false;
  return {
    show(text: string) {
      if (io.errIsTty) {
        io.err(`\r\x1b[K${text}`);
        open = true;
      } else {
        io.err(`${text}\n`);
      }
    },
    end() {
      if (open) io.err('\r\x1b[K');
      open = false;
    },
  };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** `status`: follows the count's cursor over as many invocations as the table needs, summing. */
async function status(invoke: Invoke, io: Io, asJson: boolean): Promise<void> {
  const first = (await invoke({ job: 'status' })) as StatusAnswer;
  const { cursor: firstCursor, ...counts } = first.authorizers;
  const shown = progress(io);
  for (let cursor = firstCursor; cursor; ) {
    shown.show(`counted ${counts.total} authorizers so far…`);
    const next = (await invoke({ job: 'status', cursor })) as StatusAnswer;
    const { cursor: nextCursor, ...more } = next.authorizers;
    for (const [state, count] of Object.entries(more)) {
      counts[state as keyof typeof counts] += count;
    }
    cursor = nextCursor;
  }
  shown.end();
  const answer: StatusAnswer = { ...first, authorizers: counts };
  io.out(asJson ? json(answer) : `${statusText(answer)}\n`);
}

/**
 * `list`: one invocation per page until the table ends (or `--limit`). With `--json` the authorizers are
 * written as they arrive, as one JSON document (with the service's `cursor` when `--limit` left some
 * unlisted); for people they are sorted and aligned at the end, and the count says when there are more.
 */
async function list(
  invoke: Invoke,
  io: Io,
  asJson: boolean,
  command: Extract<Command, { name: 'list' }>
): Promise<void> {
  const { limit = Number.POSITIVE_INFINITY, pageSize, state } = command;
  const rows: ListAnswer['authorizers'] = [];
  const shown = progress(io);
  let now: string | undefined;
  let listed = 0;
  let cursor: string | undefined;
  do {
    const page = (await invoke({
      job: 'list',
      limit: Math.min(pageSize, limit - listed),
      ...(state ? { state } : {}),
      ...(cursor ? { cursor } : {}),
    })) as ListAnswer;
    if (asJson && now === undefined) io.out(`{"now":${JSON.stringify(page.now)},"authorizers":[`);
    now ??= page.now;
    for (const authorizer of page.authorizers) {
      if (asJson) io.out(`${listed ? ',' : ''}\n${JSON.stringify(authorizer)}`);
      else rows.push(authorizer);
      listed += 1;
    }
    cursor = page.cursor;
    if (cursor && listed < limit) shown.show(`listed ${listed} authorizers…`);
  } while (cursor && listed < limit);
  shown.end();
  // Stopped by --limit with a cursor left: the table has more than was shown.
  const more = cursor !== undefined;
  if (asJson) {
    io.out(`\n]${more ? `,"cursor":${JSON.stringify(cursor)}` : ''}}\n`);
    return;
  }
  rows.sort((x, y) => (x.authorizerAppId < y.authorizerAppId ? -1 : 1));
  const what = `authorizer${listed === 1 ? '' : 's'}${state ? ` in state ${state}` : ''}`;
  if (!rows.length) return io.out(`no ${what}\n`);
  io.out(`${authorizerTable(rows, now as string)}\n`);
  io.err(
    more
      ? `the first ${listed} ${what} shown; there are more: raise --limit, or drop it, to list them all\n`
      : `${listed} ${what}\n`
  );
}

/** Runs one command against the refresh function and prints its result. */
export async function execute(
  command: Command,
  invoke: Invoke,
  io: Io,
  asJson: boolean
): Promise<void> {
  switch (command.name) {
    case 'status':
      return status(invoke, io, asJson);
    case 'list':
      return list(invoke, io, asJson, command);
    case 'show': {
      const { authorizerAppId, reveal } = command;
      const answer = (await invoke({
        job: 'show',
        authorizerAppId,
        ...(reveal ? { reveal } : {}),
      })) as ShowAnswer;
      if (reveal) {
        io.err(
          answer.accessToken
            ? 'the access token below works for this merchant’s account until its promised time; the reveal is logged\n'
            : 'no access token may be served for this authorizer now\n'
        );
      }
      if (asJson) return io.out(json(answer));
      const rows = authorizerFields(answer.authorizer, answer.now);
      if (reveal) rows.push(['access token', answer.accessToken ?? '-']);
      return io.out(`${fields(rows)}\n`);
    }
    case 'refresh': {
      const answer = (await invoke({
        job: 'refresh',
        authorizerAppId: command.authorizerAppId,
      })) as RefreshAnswer;
      if (asJson) return io.out(json(answer));
      const { authorizer, now } = answer;
      return io.out(
        `renewed ${authorizer.authorizerAppId}: issued ${when(authorizer.lastRefreshAt, now)}\n` +
          `${fields(authorizerFields(authorizer, now))}\n`
      );
    }
    case 'reconcile': {
      const shown = progress(io);
      shown.show('reconciling with WeChat’s authorizer list (up to a few minutes)…');
      const summary = (await invoke({ job: 'reconcile' })) as ReconcileSummary;
      shown.end();
      return io.out(asJson ? json(summary) : `${reconcileText(summary)}\n`);
    }
  }
}
