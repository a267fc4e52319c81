import { isAppId } from '../config';
import { InvalidRequestError } from '../errors';
import type { ReleaseCheckReplyJob } from '../messages/handle-message';
import { isReleaseCheckAccount } from '../messages/release-check';
import type { AuthorizerStatus } from '../store/token-store';

/**
 * The jobs the refresh function runs, by its invocation payload. The schedules send `{}` (the sweep) and
 * `{"job":"reconcile"}`; operators send the others, through `npx wechat-token` or any Lambda client
 * (docs/operations.md, "Operations CLI"). Operators need nothing but `lambda:InvokeFunction` on this one function: every
 * table read and WeChat call happens inside it, from the NAT's whitelisted IP.
 *
 * @see ../../docs/operations.md#operations-cli-npx-wechat-token
 */
export type RefreshJob =
  /** The scheduled refresh: any object payload without `job` (the schedule's, the sandbox's timer). */
  | { job: 'sweep' }
  /** Reconciles the table with WeChat's authorizer list (the 6-hourly schedule, or by hand). */
  | { job: 'reconcile' }
  /**
   * The release check's customer-service answer, started by the message intake (asynchronously, so that
   * WeChat gets its empty answer at once); only for WeChat's test accounts.
   */
  | ReleaseCheckReplyJob
  | OperatorJob;

/** The operator jobs: reads of the table, and one renewal. */
export type OperatorJob =
  /**
   * The platform at a glance. Counting authorizers reads the whole table; when it takes longer than one
   * invocation's read budget the counts are partial and come with a `cursor` to send back.
   */
  | { job: 'status'; cursor?: string }
  /** One page of authorizers (`limit`, default 100, at most 1 000), optionally in one `state`. */
  | { job: 'list'; state?: AuthorizerStatus; cursor?: string; limit?: number }
  /** One authorizer; its access token only with `reveal` (and the reveal is logged). */
  | { job: 'show'; authorizerAppId: string; reveal?: boolean }
  /** Renews one authorizer's access token now, through the lease: one `api_authorizer_token` call. */
  | { job: 'refresh'; authorizerAppId: string };

/** Every state an authorizer record can be in (`AuthorizerStatus`), in the order operators read them. */
export const AUTHORIZER_STATES = [
  'active',
  'revoked',
  'needs_reauthorization',
  'without_api_permission',
  'awaiting_authorization_code',
] as const satisfies readonly AuthorizerStatus[];

/** Authorizers per `list` page when the job does not say, and the most it may ask for. */
export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;
/** A cursor is opaque; anything longer was not issued by the service. */
const MAX_CURSOR_LENGTH = 2048;

type JobName = Exclude<RefreshJob['job'], 'sweep'>;

const FIELDS: Record<JobName, readonly string[]> = {
  reconcile: ['job'],
  status: ['job', 'cursor'],
  list: ['job', 'state', 'cursor', 'limit'],
  show: ['job', 'authorizerAppId', 'reveal'],
  refresh: ['job', 'authorizerAppId'],
  'release-check-reply': ['job', 'authorizerAppId', 'queryAuthCode', 'toUser'],
};

const isJobName = (value: unknown): value is keyof typeof FIELDS =>
  typeof value === 'string' && Object.hasOwn(FIELDS, value);

function appId(body: Record<string, unknown>): string {
  if (!isAppId(body.authorizerAppId)) {
    throw new InvalidRequestError(
      'authorizerAppId must be an appid (wx followed by letters and digits)'
    );
  }
  return body.authorizerAppId;
}

function cursor(body: Record<string, unknown>): { cursor?: string } {
  const value = body.cursor;
  if (value === undefined) return {};
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CURSOR_LENGTH) {
    throw new InvalidRequestError('cursor must be the cursor of a previous answer');
  }
  return { cursor: value };
}

/** WeChat's codes and openids are short runs of these characters; anything else was not sent by WeChat. */
const CODE = /^[A-Za-z0-9@_=-]{1,512}$/;
const OPENID = /^[A-Za-z0-9_-]{1,64}$/;

function releaseCheckReplyJob(body: Record<string, unknown>): ReleaseCheckReplyJob {
  const authorizerAppId = appId(body);
  if (!isReleaseCheckAccount(authorizerAppId)) {
    throw new InvalidRequestError(
      'release-check-reply is only for WeChat’s release-check accounts'
    );
  }
  const { queryAuthCode, toUser } = body;
  if (typeof queryAuthCode !== 'string' || !CODE.test(queryAuthCode)) {
    throw new InvalidRequestError('queryAuthCode must be an authorization code');
  }
  if (typeof toUser !== 'string' || !OPENID.test(toUser)) {
    throw new InvalidRequestError('toUser must be an openid');
  }
  return { job: 'release-check-reply', authorizerAppId, queryAuthCode, toUser };
}

/**
 * The job a refresh invocation asks for. Strict for operator jobs: an unknown job, an unknown field or a
 * value of the wrong kind is refused with a message naming it, before anything is read.
 *
 * @throws InvalidRequestError
 */
export function parseRefreshJob(event: unknown): RefreshJob {
  if (event === undefined || event === null) return { job: 'sweep' };
  if (typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidRequestError('the payload must be a JSON object, e.g. {"job":"status"}');
  }
  const body = event as Record<string, unknown>;
  if (!('job' in body)) return { job: 'sweep' };
  const { job } = body;
  if (!isJobName(job)) {
    const shown = typeof job === 'string' ? JSON.stringify(job.slice(0, 40)) : typeof job;
    throw new InvalidRequestError(
      `unknown job ${shown}; one of ${Object.keys(FIELDS).join(', ')} (none: the scheduled refresh)`
    );
  }
  const unknown = Object.keys(body).filter((key) => !FIELDS[job].includes(key));
  if (unknown.length) {
    throw new InvalidRequestError(
      `unknown field(s) for ${job}: ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`
    );
  }
  switch (job) {
    case 'reconcile':
      return { job };
    case 'release-check-reply':
      return releaseCheckReplyJob(body);
    case 'status':
      return { job, ...cursor(body) };
    case 'list': {
      const { state, limit } = body;
      if (state !== undefined && !(AUTHORIZER_STATES as readonly unknown[]).includes(state)) {
        throw new InvalidRequestError(`state must be one of ${AUTHORIZER_STATES.join(', ')}`);
      }
      if (
        limit !== undefined &&
        (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > LIST_MAX_LIMIT)
      ) {
        throw new InvalidRequestError(`limit must be an integer from 1 to ${LIST_MAX_LIMIT}`);
      }
      return {
        job,
        ...(state === undefined ? {} : { state: state as AuthorizerStatus }),
        ...cursor(body),
        ...(limit === undefined ? {} : { limit: limit as number }),
      };
    }
    case 'show': {
      if (body.reveal !== undefined && typeof body.reveal !== 'boolean') {
        throw new InvalidRequestError('reveal must be true or false');
      }
      return {
        job,
        authorizerAppId: appId(body),
        ...(body.reveal === undefined ? {} : { reveal: body.reveal }),
      };
    }
    case 'refresh':
      return { job, authorizerAppId: appId(body) };
  }
}

/** Times are ISO 8601 UTC; `null` where there is none. */
type Time = string | null;

/** One authorizer as operators see it: never a token. */
export interface AuthorizerView {
  authorizerAppId: string;
  status: AuthorizerStatus;
  /** Permission-set ids (权限集) from `func_info`. */
  permissions: number[];
  authorizedAt: Time;
  /** When WeChat issued the stored access token (the last renewal or the authorization). */
  lastRefreshAt: Time;
  /** When the schedule renews it next (active authorizers only); after a failure, the retry. */
  nextRefreshAt: Time;
  /** Until when the stored token is promised to callers (docs/callers.md, "What `expiresAt` promises"). */
  expiresAt: Time;
  /** The code of the last failed renewal, cleared by a success. */
  lastErrorCode: string | null;
  /** When the authorization ended (revoked, or its refresh token lost). */
  endedAt: Time;
  updatedAt: Time;
}

/** A scheduled job's last finished run, as its summary was logged. */
export interface LastRun {
  finishedAt: string;
  summary: Record<string, unknown>;
}

/** `status`'s answer. */
export interface StatusAnswer {
  /** The service's time: relative times are from here. */
  now: string;
  componentAppId: string;
  ticket: { createdAt: string; receivedAt: string; ageSeconds: number; usable: boolean } | null;
  componentToken: {
    lastRefreshAt: Time;
    nextRefreshAt: Time;
    expiresAt: Time;
    /** Promised life left, in seconds; 0 when none. */
    secondsLeft: number;
    lastErrorCode: string | null;
  } | null;
  /**
   * Authorizers by state. With `cursor` the counts cover only part of the table: send
   * `{"job":"status","cursor":…}` and add the next answer's counts.
   */
  authorizers: Record<AuthorizerStatus | 'total', number> & { cursor?: string };
  lastRefresh: LastRun | null;
  lastReconcile: LastRun | null;
  /** The last daily check of the platform's WeChat quotas (`QuotaSummary`), if any. */
  lastQuota: LastRun | null;
}

/** `list`'s answer: a page may be short, even empty, and still have a `cursor`; continue while it does. */
export interface ListAnswer {
  now: string;
  authorizers: AuthorizerView[];
  cursor?: string;
}

/** `show`'s answer; `accessToken` only with `reveal` (`null` when no token may be served now). */
export interface ShowAnswer {
  now: string;
  authorizer: AuthorizerView;
  accessToken?: string | null;
}

/**
 * `refresh`'s answer: the authorizer after its renewal (`kept`: another flow stored a newer token while
 * this renewal ran, and that one stands).
 */
export interface RefreshAnswer {
  now: string;
  outcome: 'refreshed' | 'kept';
  authorizer: AuthorizerView;
}

/** Every failed job answers this, with a stable `code` (the service's error codes). */
export interface JobError {
  error: { code: string; message: string };
}
