import { LEASE_MS, SUPERSEDED_OVERLAP_MS } from '../policy';

/**
 * A token with the window in which WeChat issued it: no earlier than the call began (`requestedAt`), no
 * later than its answer arrived (`issuedAt`).
 */
export interface IssueWindow {
  accessToken?: string;
  issuedAt?: number;
  requestedAt?: number;
}

/**
 * Which of two tokens of one record to keep when a writer finds the record moved since it decided to
 * write (architecture §3): `incoming` replaces the stored one; `stored` stays; with `capAt` the stored one
 * stays but is promised only until then and is renewed at once.
 */
export type Succession =
  | { keep: 'incoming' }
  | { keep: 'stored' }
  | { keep: 'stored'; capAt: number };

/**
 * The earliest moment a stored token can have been issued. Records written before `requestedAt` was kept
 * have only `issuedAt`; their call ran under a lease, so it began at most `LEASE_MS` earlier.
 */
function earliestIssue(token: IssueWindow): number {
  return token.requestedAt ?? (token.issuedAt ?? 0) - LEASE_MS;
}

/**
 * WeChat issues the tokens of one account in order and each one kills its predecessor 5 minutes later
 * (protocol §7.2, §11.1), so the record must hold the last one issued. Two tokens of the same authorization:
 * - the stored one's answer came before the incoming one's call began → the incoming one is newer;
 * - the stored one's call began after the incoming one's answer came → the stored one is newer;
 * - the windows overlap → either may be the newer: the stored one stays, promised only until 5 minutes
 *   after the incoming one may have been issued, and is renewed at once (the renewal is newer than both).
 *
 * Tokens of different authorizations are not compared here: a re-authorization kills the previous
 * authorization's tokens at once, so the caller keeps the newer authorization's token.
 */
export function succession(
  stored: IssueWindow | undefined,
  incoming: Required<IssueWindow>
): Succession {
  if (!stored?.accessToken || stored.issuedAt === undefined) return { keep: 'incoming' };
  if (stored.accessToken === incoming.accessToken) return { keep: 'stored' };
  if (stored.issuedAt < incoming.requestedAt) return { keep: 'incoming' };
  if (earliestIssue(stored) > incoming.issuedAt) return { keep: 'stored' };
  return { keep: 'stored', capAt: incoming.requestedAt + SUPERSEDED_OVERLAP_MS };
}
