import type { Rules } from './rules';
import type { TokenStatus } from './types';

/**
 * When something WeChat issues stops being accepted: component and authorizer access tokens, and the
 * JS-SDK tickets of `getticket` (protocol §12), which follow the same rules (they expire at their
 * `expires_in`; a newer one of the same kind starts the superseded one's 5-minute grace).
 *
 * @see ../../docs/wechat-protocol.md §7.2 and §11.1
 */

/** A token (or ticket) as the state keeps it (see `TokenView`). */
export interface TokenRecord {
  issuedAt: number;
  expiresAt: number;
  supersededAt?: number;
  revokedAt?: number;
}

/** Why a token stops being accepted, and when, per the rules. */
function endings(token: TokenRecord, rules: Rules): [Exclude<TokenStatus, 'valid'>, number][] {
  const ends: [Exclude<TokenStatus, 'valid'>, number][] = [];
  if (rules.tokensExpire) ends.push(['expired', token.expiresAt]);
  if (token.supersededAt !== undefined) {
    ends.push(['superseded', token.supersededAt + rules.supersededGraceMs]);
  }
  if (token.revokedAt !== undefined) ends.push(['revoked', token.revokedAt]);
  return ends;
}

/** The token's status at clock time `at`: the earliest ending reached wins. */
export function statusAt(token: TokenRecord | undefined, at: number, rules: Rules): TokenStatus {
  if (!token || at < token.issuedAt) return 'unknown';
  let status: TokenStatus = 'valid';
  let earliest = Infinity;
  for (const [reason, end] of endings(token, rules)) {
    if (at >= end && end < earliest) {
      status = reason;
      earliest = end;
    }
  }
  return status;
}

/** When the token stops being accepted (Infinity: never, by what is known now). */
export const deadline = (token: TokenRecord, rules: Rules) =>
  Math.min(Infinity, ...endings(token, rules).map(([, end]) => end));
