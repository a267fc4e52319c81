import { randomUUID } from 'node:crypto';
import type { Clock, EpochMs } from './clock';
import type { EventPublisher } from './events/publisher';
import { type Log, type LogFields, type Metrics, withLogFields } from './log';
import type { AppSecret } from './secrets';
import type { TokenStore } from './store/token-store';
import type { ComponentApi } from './wechat/api-client';

/**
 * What the token services need, as ports. Built once per Lambda container by `functions/lib/deps.ts`,
 * by the sandbox, and by tests with fakes.
 */
export interface TokenContext {
  componentAppId: string;
  store: TokenStore;
  api: ComponentApi;
  /** Where lifecycle events go (`shared/events/outbox.ts`); unset: none are recorded. */
  events?: EventPublisher;
  /** The AppSecret (the message secret is the intake's alone: `functions/lib/deps.ts`). */
  secrets: () => Promise<AppSecret>;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  /** Waits between lease polls; tests may make it advance a fake clock. */
  sleep: (ms: number) => Promise<void>;
  /** Unique id for each lease claim. */
  newLeaseOwner: () => string;
  /** Our NAT's Elastic IP when known (see `reportWechatFailure`). */
  egressIp?: string;
  /**
   * A component token already read in this run. The scheduled sweep sets it so that each due authorizer
   * does not read the same token again (one DynamoDB read per run instead of one per authorizer). A holder
   * shared by every context derived from the sweep's (leases copy the context): a token renewed for one
   * authorizer is the one the next uses.
   */
  componentTokenMemo?: { token: { accessToken: string; expiresAt: number } };
  /**
   * When (by `clock`) the current work must be done: the invocation's deadline less the time to answer,
   * or a lease's end. Unset: no deadline beyond the per-call timeouts.
   */
  deadline?: EpochMs;
  /**
   * Entries per `api_get_authorizer_list` page. Unset: `AUTHORIZER_LIST_PAGE`, WeChat's maximum. The
   * simulation lists in small pages so that its listings span pages and can shift between them (protocol
   * §11.11), as a platform's do beyond 500 merchants.
   */
  listPageSize?: number;
  /** When this container last asked WeChat to restart ticket pushes (shared by every derived context). */
  ticketPush: { requestedAt?: number };
}

/**
 * This context for one invocation that must answer within `remainingMs` (from the Lambda context's
 * `getRemainingTimeInMillis`), keeping `reserveMs` to answer: WeChat calls and lease waits end by then.
 */
export function withDeadline<C extends TokenContext>(
  ctx: C,
  remainingMs: number,
  reserveMs: number
): C {
  const budget = Math.max(0, remainingMs - reserveMs);
  return { ...ctx, deadline: ctx.clock() + budget, api: ctx.api.within(budget) };
}

/**
 * This context with `fields` on every log line written under it, by this function and by everything it
 * passes the context to (leases, renewals, `reportWechatFailure`): the unit of work is named once, where it
 * is known, and a line deeper down cannot forget it.
 */
export function withLogContext<C extends { log: Log }>(ctx: C, fields: LogFields): C {
  return { ...ctx, log: withLogFields(ctx.log, fields) };
}

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const randomLeaseOwner = () => randomUUID();
