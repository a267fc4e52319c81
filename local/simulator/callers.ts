import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock';
import type { TicketType } from './caller-paths';
import { fail } from './errcodes';
import { deadline, statusAt, type TokenRecord } from './lifetimes';
import type { Rules } from './rules';
import type { TokenStatus } from './types';

/**
 * WeChat's data behind the callers' APIs (`caller-api.ts`), without HTTP: the followers of each authorized
 * account (openids are per account), the customer-service window their messages open, mini program login
 * codes, and the JS-SDK / card tickets of `getticket` with their lifetimes.
 *
 * @see ../../docs/wechat-protocol.md §11.13 and §12
 */

/** `getticket`'s `expires_in` (protocol §12, [S112]). */
export const JS_TICKET_TTL_SECONDS = 7200;
/** A `wx.login` code works once, for 5 minutes (community staff; 40029 after, 40163 when reused). */
const LOGIN_CODE_TTL_MS = 5 * 60_000;
/** The follower a test names none for. */
export const DEFAULT_USER = 'user-1';
const PRUNE_ABOVE = 1000;
/** Dead tickets are kept this long (for `ticketStatus`) before pruning. */
const TICKET_RETENTION_MS = 7 * 86_400_000;

export interface Follower {
  readonly appId: string;
  readonly user: string;
  readonly since: number;
  /** When the follower last messaged the account: opens `customerServiceWindowMs` of custom messages. */
  lastMessageAt?: number;
}

interface LoginCode {
  readonly appId: string;
  readonly user: string;
  readonly expiresAt: number;
  used: boolean;
}

interface JsTicket {
  readonly appId: string;
  readonly type: TicketType;
  readonly record: TokenRecord;
}

/** The callers' side of one simulated WeChat, on its clock and rules. */
export class CallerState {
  /** openid → follower. */
  readonly #followers = new Map<string, Follower>();
  readonly #loginCodes = new Map<string, LoginCode>();
  /** ticket → its account, type and lifetime. */
  readonly #tickets = new Map<string, JsTicket>();
  /** `appid|type` → the newest ticket. */
  readonly #current = new Map<string, string>();

  constructor(
    readonly rules: Rules,
    readonly clock: Clock
  ) {}

  // --- followers ---------------------------------------------------------------------------------------

  /**
   * The openid of `user` in account `appId` (28 characters, like WeChat's; the same user has another
   * openid in every account). The user follows the account from the first call on.
   */
  openId(appId: string, user = DEFAULT_USER): string {
    const digest = createHash('sha256').update(`${appId}\n${user}`).digest('base64url');
    const openid = `o${digest.slice(0, 27)}`;
    if (!this.#followers.has(openid)) {
      this.#followers.set(openid, { appId, user, since: this.clock() });
    }
    return openid;
  }

  /** The follower sends the account a message: custom messages may answer for the next window. */
  messageFrom(appId: string, user = DEFAULT_USER): string {
    const openid = this.openId(appId, user);
    (this.#followers.get(openid) as Follower).lastMessageAt = this.clock();
    return openid;
  }

  /** 40003 `invalid openid` for an openid that is not a follower of this account. */
  follower(appId: string, openid: string): Follower {
    const found = this.#followers.get(openid);
    if (!found || found.appId !== appId) fail(40003);
    return found;
  }

  /** 40003 as {@link follower}; 45015 when the follower sent nothing within `customerServiceWindowMs`. */
  checkMessageWindow(appId: string, openid: string): void {
    const { lastMessageAt } = this.follower(appId, openid);
    const window = this.rules.customerServiceWindowMs;
    if (window === Infinity) return;
    if (lastMessageAt === undefined || this.clock() - lastMessageAt >= window) fail(45015);
  }

  // --- mini program login codes ------------------------------------------------------------------------

  /** What `wx.login` gives `user` in mini program `appId`: a code for `jscode2session`. */
  mintLoginCode(appId: string, user = DEFAULT_USER): string {
    const now = this.clock();
    if (this.#loginCodes.size > PRUNE_ABOVE) {
      for (const [code, c] of this.#loginCodes)
        if (now >= c.expiresAt) this.#loginCodes.delete(code);
    }
    const code = randomBytes(24).toString('base64url').slice(0, 32);
    this.#loginCodes.set(code, { appId, user, expiresAt: now + LOGIN_CODE_TTL_MS, used: false });
    return code;
  }

  /** 40029 unknown, expired or another mini program's code; 40163 once used. */
  exchangeLoginCode(appId: string, code: string): { openid: string; sessionKey: string } {
    const found = this.#loginCodes.get(code);
    if (!found || found.appId !== appId || this.clock() >= found.expiresAt) fail(40029);
    if (found.used) fail(40163);
    found.used = true;
    return {
      openid: this.openId(appId, found.user),
      sessionKey: randomBytes(16).toString('base64'),
    };
  }

  // --- JS-SDK and card tickets -------------------------------------------------------------------------

  /**
   * A new ticket of `type` for the account, valid {@link JS_TICKET_TTL_SECONDS}; the previous one is
   * superseded and, like a token, accepted `supersededGraceMs` more (no source settles what happens to
   * it; the simulator's choice).
   */
  issueTicket(appId: string, type: TicketType): string {
    const now = this.clock();
    this.#prune(now);
    const key = `${appId}|${type}`;
    const previous = this.#current.get(key);
    if (previous !== undefined) this.#supersede(previous, now);
    const ticket = randomBytes(64).toString('base64url');
    this.#tickets.set(ticket, {
      appId,
      type,
      record: { issuedAt: now, expiresAt: now + JS_TICKET_TTL_SECONDS * 1000 },
    });
    this.#current.set(key, ticket);
    return ticket;
  }

  /** The status of a ticket at `at` (default now): valid, expired, superseded, or unknown. */
  ticketStatus(ticket: string, at = this.clock()): TokenStatus {
    return statusAt(this.#tickets.get(ticket)?.record, at, this.rules);
  }

  /** The newest ticket of `type` issued to the account, if any. */
  currentTicket(appId: string, type: TicketType): string | undefined {
    return this.#current.get(`${appId}|${type}`);
  }

  #supersede(ticket: string, now: number): void {
    const found = this.#tickets.get(ticket);
    if (found) found.record.supersededAt ??= now;
  }

  #prune(now: number): void {
    if (this.#tickets.size <= PRUNE_ABOVE) return;
    for (const [ticket, t] of this.#tickets) {
      if (deadline(t.record, this.rules) < now - TICKET_RETENTION_MS) this.#tickets.delete(ticket);
    }
  }
}
