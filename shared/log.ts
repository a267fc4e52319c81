import { isIP } from 'node:net';
import { isAppId } from './config';

/**
 * The logging and metrics ports that services accept. The Lambda edge backs them with Powertools
 * (structured JSON, CloudWatch EMF), the sandbox with console lines, tests with recorders. Fields must never
 * hold a token, ticket, secret, auth code or decrypted payload; both real backends pass every entry through
 * {@link redactFields}, so a mistake upstream still writes nothing secret.
 */
export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** What is written instead of a value that is not of its field's declared kind. */
export const REDACTED = '[redacted]';

/** snake_case words, none longer than 24 letters: an error code or API name, never a random string. */
const WORDS = '[a-z]{1,24}(?:_[a-z0-9]{1,24})*';
const IDENTIFIER = new RegExp(`^(?=.{1,64}$)${WORDS}$`);
const ERROR_NAME = /^(?:[A-Z][A-Za-z]{0,60})?(?:Error|Exception|Fault)$/;
const ROUTE =
  /^(?:(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \/[a-z0-9/_{}-]*|[a-z]{1,24}(?:-[a-z]{1,24})*)$/;
const CODE_COUNTS = new RegExp(`^${WORDS}:\\d{1,9}(?:,${WORDS}:\\d{1,9})*$`);
const ID_LIST = /^\d{1,6}(?:,\d{1,6})*$/;
const QUOTA_USES = /^[a-z_]{1,64} \d{1,12}\/\d{1,12}(, [a-z_]{1,64} \d{1,12}\/\d{1,12}){0,15}$/;
const WECHAT_RID = /^[0-9a-f]{8}(?:-[0-9a-f]{8}){2}$/;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,3})?Z$/;
/** A URL path segment of lowercase words and digits (`cgi-bin`, `api_authorizer_token`), none random. */
const PATH_SEGMENT = /^[a-z0-9]{0,24}(?:[_.-][a-z0-9]{1,24})*$/;

const matching = (pattern: RegExp) => (value: string) => (pattern.test(value) ? value : undefined);

/** The URL's scheme, host and path, without user info, query (it carries the component token) or fragment. */
function urlWithoutQuery(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (!url.pathname.split('/').every((segment) => PATH_SEGMENT.test(segment))) return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * The kinds of string a log field may hold, each with its check: the value as written, or `undefined` when
 * the value is not of that kind (and is then replaced by {@link REDACTED}).
 */
export const LOG_VALUE_KINDS = {
  /** A WeChat appid (`wx` + letters and digits): the component's or an authorizer's. */
  appId: (value: string) => (isAppId(value) ? value : undefined),
  /** A lowercase snake_case word from a closed set: error codes, API names, outcomes, sources. */
  identifier: matching(IDENTIFIER),
  /** A JavaScript error class name (`TypeError`, `ResourceNotFoundException`). */
  errorName: matching(ERROR_NAME),
  /** An http(s) URL, written without its query and fragment. */
  url: urlWithoutQuery,
  /** An IPv4 or IPv6 address. */
  ip: (value: string) => (isIP(value) ? value : undefined),
  /** One of our HTTP routes, by route key (`POST /wechat/events`) or name (`authorize-callback`). */
  route: matching(ROUTE),
  /** Counts by error code, `code:count` joined by commas (the refresh summary's `failed`). */
  codeCounts: matching(CODE_COUNTS),
  /** Numeric ids joined by commas (WeChat permission-set ids). */
  idList: matching(ID_LIST),
  /** WeChat's request id from an `errmsg` (`rid: 64705d91-0719e11e-25594278`), for WeChat support. */
  wechatRid: matching(WECHAT_RID),
  /** An ISO 8601 UTC timestamp. */
  isoTime: matching(ISO_TIME),
  /**
   * A name WeChat gives a kind of push (`MsgType` `text`, `Event` `CLICK`, `weapp_audit_success`) or the
   * bus's `detail-type` for it (`wechat.event`): words of one case without digits, never a value the fan
   * or merchant chose, nor anything shaped like a credential.
   */
  wechatName: matching(/^(?=.{1,64}$)(?:[a-z]+(?:[_.][a-z]+)*|[A-Z]+(?:_[A-Z]+)*)$/),
  /** WeChat API names with today's calls and daily limit: `api_query_auth 12/10000, …`. */
  quotaUses: matching(QUOTA_USES),
} as const satisfies Record<string, (value: string) => string | undefined>;

export type LogValueKind = keyof typeof LOG_VALUE_KINDS;

/**
 * The string fields that may be logged, each with the kind its value must be. Numbers, booleans and null
 * may be logged under any name (no credential is a number); a string under a name not listed here, or one
 * that is not of its field's kind, is written as {@link REDACTED}. So a token is never written, whatever it
 * is called: an allow-list of value kinds, not a deny-list of names. There is deliberately no free-text
 * kind: no check tells a sentence from one quoting a secret (the console-chosen message Token can be a
 * plain word), so messages are constants and what varies goes in fields of a checkable kind.
 */
export const LOG_FIELD_KINDS = {
  appId: 'appId',
  authorizerAppId: 'appId',
  componentAppId: 'appId',
  code: 'identifier',
  errorCode: 'identifier',
  reason: 'identifier',
  systemicError: 'identifier',
  api: 'identifier',
  outcome: 'identifier',
  verdict: 'identifier',
  source: 'identifier',
  kind: 'identifier',
  token: 'identifier',
  infoType: 'identifier',
  component: 'identifier',
  step: 'identifier',
  window: 'identifier',
  job: 'identifier',
  errorName: 'errorName',
  causeName: 'errorName',
  url: 'url',
  requestIp: 'ip',
  egressIp: 'ip',
  route: 'route',
  failed: 'codeCounts',
  permissions: 'idList',
  quotas: 'quotaUses',
  rid: 'wechatRid',
  now: 'isoTime',
  msgType: 'wechatName',
  event: 'wechatName',
  detailType: 'wechatName',
} as const satisfies Record<string, LogValueKind>;

/** The value as it may be written: numbers, booleans and null as they are, strings only as their kind. */
function redactValue(name: string, value: unknown): LogFields[string] {
  if (value === undefined || value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return REDACTED;
  if (value === '') return value;
  const kind = Object.hasOwn(LOG_FIELD_KINDS, name)
    ? LOG_FIELD_KINDS[name as keyof typeof LOG_FIELD_KINDS]
    : undefined;
  return (kind && LOG_VALUE_KINDS[kind](value)) ?? REDACTED;
}

/**
 * The fields as they may be written (see {@link LOG_FIELD_KINDS}). Used by every real `Log` backend, so the
 * rule holds in AWS and in the sandbox alike.
 */
export function redactFields(fields: LogFields | undefined): LogFields {
  const safe: LogFields = {};
  if (!fields) return safe;
  for (const [name, value] of Object.entries(fields)) safe[name] = redactValue(name, value);
  return safe;
}

/** Metric names the alarms in `infra/` watch. Keep them in sync with `infra/constructs/alarms.ts`. */
export const MetricName = {
  TicketAgeSeconds: 'TicketAgeSeconds',
  TicketReceived: 'TicketReceived',
  TicketUnavailable: 'TicketUnavailable',
  ComponentRefreshSucceeded: 'ComponentRefreshSucceeded',
  ComponentRefreshFailed: 'ComponentRefreshFailed',
  AuthorizerRefreshSucceeded: 'AuthorizerRefreshSucceeded',
  AuthorizerRefreshFailed: 'AuthorizerRefreshFailed',
  /** An authorizer's `getticket` ticket (`jsapi`, `wx_card`) renewed, for a caller or by the sweep. */
  JsapiTicketRefreshSucceeded: 'JsapiTicketRefreshSucceeded',
  JsapiTicketRefreshFailed: 'JsapiTicketRefreshFailed',
  WhitelistRejected: 'WhitelistRejected',
  WechatCallRelayed: 'WechatCallRelayed',
  NeedsReauthorization: 'NeedsReauthorization',
  RefreshTokenRecovered: 'RefreshTokenRecovered',
  AuthorizationCompleted: 'AuthorizationCompleted',
  CallbackRejected: 'CallbackRejected',
  /**
   * Two tokens of one authorizer were issued by overlapping flows and the stored one may be the older: it
   * was capped to its possible successor's issue time + 5 minutes and renewed at once (architecture §3).
   */
  SupersededTokenCapped: 'SupersededTokenCapped',
  /** A caller's `invalidToken` report that WeChat confirmed (the token was dead): renewed at once. */
  ReportedTokenDead: 'ReportedTokenDead',
  /** A caller's `invalidToken` report WeChat refuted (the token is alive): nothing renewed. */
  ReportedTokenAlive: 'ReportedTokenAlive',
  /** Due lifecycle events the scheduled flush could not publish (EventBridge refused or did not answer). */
  LifecycleEventsUnpublished: 'LifecycleEventsUnpublished',
  /**
   * Authorizers whose lifecycle events a writer left on the item (it stopped before the outbox got them),
   * moved by the scheduled reconciliation: late, not lost.
   */
  LifecycleEventsRecovered: 'LifecycleEventsRecovered',
  /** A push to the message-and-event URL whose signature and payload checked out. */
  MessageReceived: 'MessageReceived',
  /** An authorized account's message or event the bus took (`wechat.message` / `wechat.event`). */
  MessagePublished: 'MessagePublished',
  /** A push this container had already published (WeChat's retry of a slow answer): not published again. */
  MessageDuplicate: 'MessageDuplicate',
  /**
   * A push to the message URL refused or not published, by kind in the `ErrorCode` dimension:
   * `signature_mismatch`, `malformed_message`, `appid_mismatch`, `payload_too_large`, `invalid_request`
   * (refused with a 4xx), `unknown_authorizer` (acknowledged, not published).
   */
  MessageRefused: 'MessageRefused',
  /** The bus refused or did not answer a message's publish; WeChat gets a 503 and delivers it again. */
  MessagePublishFailed: 'MessagePublishFailed',
  /** The highest share (%) of any watched WeChat API's daily quota the platform has used (once a day). */
  WechatQuotaUsedPercent: 'WechatQuotaUsedPercent',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

export interface Metrics {
  /**
   * Adds `value` (default 1) to a count metric, optionally also split by an `ErrorCode` dimension and an
   * `Api` one (the WeChat API path of a call relayed for callers: a bounded set, the allowed prefixes').
   */
  count(name: MetricName, value?: number, errorCode?: string, api?: string): void;
  /** Records a gauge-like value such as an age in seconds. */
  gauge(name: MetricName, value: number, unit: 'Seconds' | 'Count' | 'Percent'): void;
}

/**
 * A `Log` that adds `persistent` to every entry written through it: the context of one unit of work (an
 * authorizer's renewal, one item of a sweep) given once instead of spread into each call. A field given at
 * the call wins over a persistent one of the same name; an `undefined` one does not erase it.
 *
 * A wrapper over the port rather than a `child()` method on it, so no backend has to implement it: every
 * backend would merge the same way. Powertools' own `createChild()` is not used at the edge: each child is
 * a whole new Logger (one per authorizer of a sweep, per renewal), and its lines say `cold_start: true` on
 * every warm invocation (Powertools 2.36 recomputes the flag from the new instance's own first use). The
 * merged fields reach the backend as the call's own do, so persistent ones pass the same `redactFields`.
 */
export function withLogFields(log: Log, persistent: LogFields): Log {
  const merged = (fields: LogFields | undefined): LogFields => {
    const all: LogFields = { ...persistent };
    for (const [name, value] of Object.entries(fields ?? {})) {
      if (value !== undefined || !Object.hasOwn(all, name)) all[name] = value;
    }
    return all;
  };
  return {
    debug: (message, fields) => log.debug(message, merged(fields)),
    info: (message, fields) => log.info(message, merged(fields)),
    warn: (message, fields) => log.warn(message, merged(fields)),
    error: (message, fields) => log.error(message, merged(fields)),
  };
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
export const noMetrics: Metrics = { count() {}, gauge() {} };
