import type { Clock, EpochMs } from '../../shared/clock';
import type { ApiName } from '../../shared/wechat/wire';
import type { CallerApiName, SimulatedApi, TicketType } from './caller-paths';
import type { Rules, SimulatorRules } from './rules';
import type { XmlFields, XmlValue } from './xml';

/**
 * The simulator's public types. See {@link WechatSimulator} for what it models.
 *
 * @see ../../docs/wechat-protocol.md §2–§7 and §11
 */

/**
 * What the simulator does instead of answering normally (see {@link WechatSimulator.failNext}).
 *
 * Not processed (WeChat never acted): `{errcode}`, `'timeout'` (the socket is held, no answer), `'reset'`,
 * `'html'`, `'http500'`, `'empty'`, `'malformed'` (HTTP 200, `errcode: 0`, the required fields missing, e.g.
 * `api_get_authorizer_list` without `list`).
 *
 * Processed (WeChat fully acts: tokens issued and the older ones superseded, the refresh token rotated when
 * the rules rotate it, the auth code consumed, a pre_auth_code minted, quota spent), then its answer is
 * lost (§11.2): `'lost'` resets the connection and `'lost_timeout'` holds it until the client gives up; or
 * replaced (§11.10): `'busy_after_processing'` answers `{"errcode":-1,"errmsg":"system error rid: …"}`.
 */
export type Fault =
  | { errcode: number; errmsg?: string }
  | 'timeout'
  | 'reset'
  | 'html'
  | 'http500'
  | 'empty'
  | 'malformed'
  | 'lost'
  | 'lost_timeout'
  | 'busy_after_processing';

export interface SimulatorOptions {
  componentAppId: string;
  componentAppSecret: string;
  /** Message token (消息校验Token) used for push signatures. */
  token: string;
  /** 43-character EncodingAESKey used to encrypt pushes. */
  encodingAesKey: string;
  /** Where to POST encrypted pushes (e.g. http://127.0.0.1:3000/wechat/events). Unset: pushes are recorded, not sent. */
  eventUrl?: string;
  /**
   * The message URL (消息与事件接收URL), with `$APPID$` where WeChat puts the authorized account's appid
   * (e.g. `http://127.0.0.1:3000/wechat/messages/$APPID$`, protocol §13). Unset: messages are recorded,
   * not sent. Change it with {@link WechatSimulator.setMessageUrl}.
   */
  messageUrl?: string;
  /**
   * The ticket push service's period (WeChat: 10 min), on the simulator's clock: a real-time timer and
   * {@link WechatSimulator.catchUp} push a ticket once this much clock time has passed since the last one.
   * 0/undefined = no ticket push service (only explicit {@link WechatSimulator.pushTicket} calls).
   */
  ticketIntervalMs?: number;
  /** Added latency per API call in ms (benchmarks use 50). */
  latencyMs?: number;
  /** WeChat's clock; every rule that reads time reads it. Default Date.now. */
  clock?: Clock;
  /** Default 0 (ephemeral). The host is always 127.0.0.1. */
  port?: number;
  /**
   * The IP WeChat sees for our egress (the NAT's), reported as `requestIP` in the 61004 answers of
   * {@link WechatSimulator.setWhitelisted}(false). Default '203.0.113.7'.
   */
  egressIp?: string;
  /**
   * The platform's IP whitelist (第三方平台 → 开发资料 → 白名单, protocol §7.1, §11.13) by source address: a
   * request to ANY API (component APIs, getApiQuota and the callers' authorizer-token APIs alike) whose
   * socket's remote address is not listed answers 61004 `access clientip is not registered requestIP:
   * <that address> rid: …` before any other check. IPv4-mapped addresses are normalized
   * (`::ffff:127.0.0.2` is `127.0.0.2`). Unset (the default): any address. The pages and `/simulator/*`
   * routes are never guarded. On Linux every 127.x.y.z is loopback: bind a client to `127.0.0.2`
   * (`http.request(url, { localAddress: '127.0.0.2' })`) and list only that to tell a whitelisted egress
   * from any other caller (plain `fetch` leaves from 127.0.0.1). Change it with
   * {@link WechatSimulator.setWhitelist}.
   */
  whitelist?: readonly string[];
  /** Overrides of WeChat's rules; the defaults are strict like WeChat ({@link SimulatorRules}). */
  rules?: Partial<SimulatorRules>;
}

/**
 * Who made a recorded request: an API, the authorization page (GET), its confirm (POST), the merchant's
 * revocation (`POST /simulator/unauthorize`), or anything else.
 */
export type CallName =
  | ApiName
  | CallerApiName
  | 'confirm_page'
  | 'confirm'
  | 'unauthorize'
  | 'renew_elsewhere'
  | 'release_check'
  | 'unknown';

export interface CallRecord {
  api: CallName;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON (APIs), form fields (confirm), or the raw text when it is not JSON. */
  body: unknown;
  /** Clock time when the request arrived. */
  at: EpochMs;
  /** The request's source address (the socket's remote address, normalized: what the whitelist checks). */
  clientIp: string;
  /** The token the request carried (`access_token` or `component_access_token` in the query). */
  token?: string;
  /** The errcode answered (or, for a lost answer, that would have been), also for `{errcode}` faults. */
  errcode?: number;
  /** The injected fault, if one was applied. */
  fault?: 'errcode' | Exclude<Fault, object>;
}

export interface PushRecord {
  infoType: string;
  /** HTTP status of our service's answer; 0 when not sent or the request failed. */
  status: number;
  /** Our service's answer body ('' when none). */
  body: string;
  /** Clock time of the push. */
  at: EpochMs;
  /** The decrypted payload XML that was (or would have been) encrypted and sent. */
  xml: string;
  authorizerAppId?: string;
  /** Set when the push was withheld on purpose (a lost push: `deliver: false`, `revoke({push: false})`). */
  lost?: true;
  /** Why nothing (or no answer) came back: no eventUrl, lost, connection refused, timeout… */
  error?: string;
  /** Which delivery of the push this was (WeChat's retries: 2, 3); absent for the first. */
  delivery?: number;
}

/** A push's payload below `<xml>`: strings go in CDATA, numbers bare, objects nest, arrays repeat. */
export type PushValue = string | number | PushFields | readonly PushValue[];
export type PushFields = { readonly [element: string]: PushValue };

/**
 * A token's lifetime: accepted from `issuedAt` until the earliest of `expiresAt` (when tokens expire),
 * `supersededAt` + the grace (5 min) and `revokedAt`.
 */
export interface TokenView {
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** When a newer token of the same kind was issued (starts the 5-minute transition). */
  readonly supersededAt?: number;
  /** When a revocation or a re-authorization killed it at once. */
  readonly revokedAt?: number;
}
export type TokenStatus = 'valid' | 'expired' | 'superseded' | 'revoked' | 'unknown';

export interface AuthorizerView {
  /** The current refresh token; '' for an account without API permission. */
  readonly refreshToken: string;
  /** A rotated-away refresh token still accepted until `until` (rotation rule only). */
  readonly previousRefreshToken?: { readonly value: string; readonly until: number };
  readonly accessTokens: ReadonlyMap<string, TokenView>;
  readonly funcIds: readonly number[];
  readonly active: boolean;
  /** Epoch seconds of the latest authorization (as in api_get_authorizer_list). */
  readonly authTime: number;
  /** The original id (原始ID, `gh_…`): the `ToUserName` of the account's messages. */
  readonly userName: string;
  readonly nickName: string;
  readonly accountType: AccountType;
  /** false: api_query_auth answers no access or refresh token (§11.3). */
  readonly apiPermission: boolean;
  /** api_get_authorizer_list shows this authorizer with an empty `refresh_token` (§11.7). */
  readonly listedWithoutRefreshToken: boolean;
}

export interface SimulatorState {
  readonly tickets: ReadonlyMap<string, { readonly createdAt: number }>;
  readonly latestTicket: string | undefined;
  readonly componentTokens: ReadonlyMap<string, TokenView>;
  readonly preAuthCodes: ReadonlyMap<
    string,
    { readonly issuedAt: number; readonly expiresAt: number; readonly used: boolean }
  >;
  readonly authCodes: ReadonlyMap<
    string,
    {
      readonly authorizerAppId: string;
      readonly expiresAt: number;
      readonly used: boolean;
      /** '' for a code minted without an authorization page (the release check's query_auth_code). */
      readonly preAuthCode: string;
      /** The authorizer_access_token the code's exchange issued. */
      readonly accessToken?: string;
    }
  >;
  readonly authorizers: ReadonlyMap<string, AuthorizerView>;
  readonly pushesStopped: boolean;
  /** false: our egress IP is off the whitelist ({@link WechatSimulator.setWhitelisted}). */
  readonly whitelisted: boolean;
  /** The whitelisted source addresses ({@link SimulatorOptions.whitelist}); undefined: any. */
  readonly whitelist: ReadonlySet<string> | undefined;
  readonly eventUrl: string | undefined;
  /** The message URL template ({@link SimulatorOptions.messageUrl}). */
  readonly messageUrl: string | undefined;
  /** Customer-service messages WeChat accepted, oldest first. */
  readonly customMessages: readonly CustomMessageRecord[];
}

/** What kind of account authorized the platform. */
export type AccountType = 'official_account' | 'mini_program';

/**
 * A customer-service message (客服消息) WeChat accepted from `/cgi-bin/message/custom/send`.
 *
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
 */
export interface CustomMessageRecord {
  readonly authorizerAppId: string;
  /** The fan's openid. */
  readonly touser: string;
  readonly msgtype: string;
  /** `text.content` for a text message. */
  readonly content?: string;
  /** The request's `<msgtype>` object as sent. */
  readonly payload: unknown;
  /** The authorizer_access_token the message was sent with. */
  readonly accessToken: string;
  /** Clock time WeChat accepted it. */
  readonly at: EpochMs;
}

/** A message's payload below `<xml>`: WeChat's element names, `MsgType` always. */
export type MessageFields = PushFields & { readonly MsgType: string };

/**
 * How the service answered one delivery of a message (protocol §13): `empty` (`success` or nothing: no
 * reply), `reply` (an encrypted passive reply that passed every check), `invalid_reply` (a 2xx body that is
 * neither: see `replyError`), `plaintext` (an unencrypted `<xml>` reply, refused in safe mode),
 * `http_error` (a status outside 2xx), `no_answer` (no answer within 5 s or no connection), `unsent` (no
 * message URL, or the simulator is closing).
 */
export type MessageAnswer =
  | 'empty'
  | 'reply'
  | 'invalid_reply'
  | 'plaintext'
  | 'http_error'
  | 'no_answer'
  | 'unsent';

/**
 * A passive reply (被动回复) as WeChat decrypted it: its elements by WeChat's names (`Content` for text;
 * `Image`, `Voice`, `Video`, `Music`, `Articles` nest).
 *
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html
 */
export type PassiveReply = XmlFields & {
  readonly ToUserName: string;
  readonly FromUserName: string;
  readonly CreateTime: string;
  readonly MsgType: string;
  readonly Content?: XmlValue;
};

/** One delivery of a message or event to the message URL, and the service's answer. */
export interface MessageRecord {
  authorizerAppId: string;
  /** The account's original id: the payload's and the envelope's `ToUserName`. */
  userName: string;
  /** The fan: the payload's `FromUserName` (the query's `openid` for official accounts). */
  openid: string;
  msgType: string;
  /** `Event` of an event. */
  event?: string;
  /** `MsgId` of a message (`MsgID` of TEMPLATESENDJOBFINISH): the same on every delivery. */
  msgId?: number | string;
  /** The payload's `CreateTime` (WeChat's clock, epoch seconds): the same on every delivery. */
  createTime: number;
  /** The decrypted payload XML that was (or would have been) encrypted and sent. */
  xml: string;
  /** HTTP status of the service's answer; 0 when not sent or the request failed. */
  status: number;
  /** The service's answer body ('' when none). */
  body: string;
  /** Clock time of the delivery. */
  at: EpochMs;
  answer: MessageAnswer;
  /** The decrypted passive reply, when `answer` is `reply`. */
  reply?: PassiveReply;
  /** What was wrong with the reply, when `answer` is `invalid_reply` or `plaintext`. */
  replyError?: string;
  /** Why nothing (or no answer) came back: no message URL, connection refused, timeout… */
  error?: string;
  /** Which delivery of the message this was (WeChat's retries: 2, 3); absent for the first. */
  delivery?: number;
}

/** One step of the release check and its verdict, as the WeChat console lists them. */
export interface ReleaseCheckStep {
  name: string;
  passed: boolean;
  /** What was seen; never a token, a code or a decrypted payload. */
  detail: string;
}

/** The release check's (全网发布接入检测) result: passed when every step passed. */
export interface ReleaseCheckReport {
  passed: boolean;
  steps: ReleaseCheckStep[];
}

/** Our service's answer to one push. */
export interface PushAnswer {
  status: number;
  body: string;
}

/**
 * A running simulator: a local test double of WeChat's side of a third-party platform (第三方平台). It serves
 * the component APIs of https://api.weixin.qq.com (legacy `/cgi-bin/component/api_*` paths, and
 * `getApiQuota` at `/cgi-bin/openapi/quota/get`, which also takes authorizer tokens), the APIs callers
 * of our tokens use (`CallerApiPath`: getticket, user/info, message/custom/send, getwxacodeunlimit with
 * an authorizer token; jscode2session with the component token), the
 * merchant's authorization page (mp.weixin.qq.com / open.weixin.qq.com), and sends encrypted pushes to the
 * platform's authorization event URL. Answers use WeChat's real shapes, errcodes and errmsg prefixes (with a
 * ` rid: …` suffix). Its rules ({@link SimulatorRules}) are as strict as WeChat's by default. Time is the
 * simulator's own clock. All methods act on the simulated WeChat state; none throws on push failures.
 */
export interface WechatSimulator {
  /** `http://127.0.0.1:<port>`: use as the API base URL and as the authorization-page origin. */
  readonly url: string;
  /** The rules in force (defaults merged with `options.rules`). */
  readonly rules: Rules;
  /** The simulator's clock. */
  now(): EpochMs;
  /** Stops the timer, aborts pushes in flight, drops held sockets, closes the server. */
  close(): Promise<void>;
  setEventUrl(url: string | undefined): void;
  /** Sets the message URL template ({@link SimulatorOptions.messageUrl}); undefined: messages are not sent. */
  setMessageUrl(url: string | undefined): void;
  /**
   * A fan's message or event reaches the service (protocol §13): `<xml><ToUserName/>` (the account's
   * original id) `<FromUserName/>` (the fan's openid; `fields` may set another) `<CreateTime/>` then
   * `fields` (`MsgType` and the kind's elements, see `MESSAGE_KINDS`; a message without `MsgId` gets a
   * unique one), sealed like the pushes, in `<xml><ToUserName/><Encrypt/></xml>`, POSTed to the message URL
   * with `$APPID$` replaced and `openid` in the query for an official account. The answer is judged as
   * WeChat does ({@link MessageAnswer}): a passive reply must be encrypted, signed and addressed to the
   * fan from the account. A fan's own act opens the 48-hour customer-service window. Unanswered (no 2xx
   * within 5 s), it is delivered again with the same payload at the next {@link flushMessages}, three
   * deliveries in all, unless `retry` is false or `rules.retryUnansweredPushes` is off.
   *
   * @param options.user the fan (any name; default 'user-1'), whose openid is per account.
   * @throws Error when the account has no active authorization.
   */
  sendMessage(
    authorizerAppId: string,
    fields: MessageFields,
    options?: { user?: string; retry?: boolean }
  ): Promise<MessageRecord>;
  /**
   * `count` messages and events of kinds picked at random from `MESSAGE_KINDS` (those of each account's
   * type) to accounts picked at random among the active authorizations, from a few fans, one after the
   * other. None when no account is authorized.
   */
  sendMessages(count: number, options?: { random?: () => number }): Promise<MessageRecord[]>;
  /**
   * The service's answers to the next `n` messages are lost on the way back: WeChat delivers each again at
   * the next {@link flushMessages} (protocol §11.9).
   */
  loseNextMessageAnswers(n: number): void;
  /** Sends the deliveries WeChat makes again, and waits for the messages in flight. */
  flushMessages(): Promise<void>;
  /** Deliveries to the message URL and the service's answers, oldest first. */
  readonly messages: MessageRecord[];
  /**
   * The release check (全网发布接入检测, protocol §13), also `POST /simulator/release-check`: WeChat's test
   * accounts authorize the platform, then their fan checks the passive replies and the customer-service
   * message. Each step's verdict as the console shows it. See `release-check.ts`.
   */
  runReleaseCheck(): Promise<ReleaseCheckReport>;
  /** Mints `ticket@@@…` (CreateTime = clock), pushes it (even while stopped); returns our service's answer. */
  pushTicket(): Promise<{ ticket: string } & PushAnswer>;
  /**
   * Sends the ticket push that is due: one push when `ticketIntervalMs` has passed on the simulator's clock
   * since the last ticket (however far the clock jumped), none while the push service is stopped. The
   * real-time timer runs the same check; call it after moving the clock.
   */
  catchUp(): Promise<void>;
  /**
   * {@link authorize} + the `authorized` (or `updateauthorized`) push carrying the new auth code.
   * `deliver: false` models a lost push (recorded, not sent).
   */
  pushAuthorized(
    authorizerAppId: string,
    opts?: {
      infoType?: 'authorized' | 'updateauthorized';
      funcIds?: number[];
      apiPermission?: boolean;
      deliver?: boolean;
      /** Official account (the default) or mini program: decides the messages it gets. */
      accountType?: AccountType;
    }
  ): Promise<{ authCode: string } & PushAnswer>;
  /**
   * The merchant revokes the authorization: from then on `api_authorizer_token` answers
   * `rules.revokedRefreshErrcode`, `api_get_authorizer_info` 61003, the list omits it, its access tokens
   * die at once. Then the `unauthorized` push, unless `push: false` (a lost push).
   */
  revoke(authorizerAppId: string, opts?: { push?: boolean }): Promise<PushAnswer>;
  /** `revoke(authorizerAppId)` with its push. */
  pushUnauthorized(authorizerAppId: string): Promise<PushAnswer>;
  /** `revoke` without a push (synchronous). */
  forgetAuthorizer(authorizerAppId: string): void;
  /**
   * Any push: `<xml><AppId/><CreateTime/><InfoType/>` then `fields`, which may nest (e.g.
   * `notify_third_fasteregister` with `info: {name, code, legal_persona_wechat, …}`, §4.2).
   */
  pushEvent(
    infoType: string,
    fields?: PushFields,
    opts?: { authorizerAppId?: string; deliver?: boolean }
  ): Promise<PushAnswer>;
  /**
   * The merchant confirms, without HTTP: creates or re-creates the authorization with a NEW refresh token
   * (the previous one dies; with `reauthorizationKillsAccessTokens` so do its access tokens) and returns a
   * new auth code valid `codeTtlSeconds` by the clock. No push. `apiPermission: false` = an account
   * without API permission (api_query_auth then answers no tokens, §11.3).
   */
  authorize(
    authorizerAppId: string,
    funcIds?: number[],
    /**
     * `keepTokens`: a permission change that keeps the refresh and access tokens (protocol §11.12);
     * `accountType`: official account (the default) or mini program, which decides what messages it gets.
     */
    opts?: { apiPermission?: boolean; keepTokens?: boolean; accountType?: AccountType }
  ): string;
  /** The ticket push service stops (timer pushes are skipped) / resumes (as api_start_push_ticket does). */
  stopPushes(): void;
  resumePushes(): void;
  /** Queues `fault` for the next `times` (default 1) calls of `api` ('*' = any API; specific queues first). */
  failNext(api: SimulatedApi | '*', fault: Fault, times?: number): void;
  /** Drops the faults queued for `api` (default: every API). */
  clearFaults(api?: SimulatedApi | '*'): void;
  /**
   * false: our egress IP is off the platform's whitelist, so every API answers 61004 `access clientip is
   * not registered requestIP: <egressIp> rid: …` whatever the source address. Independent of
   * {@link setWhitelist}: a call must pass both.
   */
  setWhitelisted(ok: boolean): void;
  /**
   * Replaces the whitelist of source addresses ({@link SimulatorOptions.whitelist}); undefined lifts it.
   * @throws ConfigError for an entry that is not an IP address.
   */
  setWhitelist(addresses: readonly string[] | undefined): void;
  /** WeChat-side change: the stored refresh token becomes invalid at once (61023); the list shows the new one. */
  rotateRefreshToken(authorizerAppId: string): string;
  /**
   * WeChat-side renewal made outside the service (another holder of the refresh token): a new access token
   * is issued, so the one the service holds dies after `supersededGraceMs`. Returns the new token.
   */
  renewElsewhere(authorizerAppId: string): string;
  /** api_get_authorizer_list shows the authorizer with `refresh_token: ""` while `on` (§2.6, §11.7). */
  setListedWithoutRefreshToken(authorizerAppId: string, on: boolean): void;
  /** Whether the authorizer currently has an authorization. */
  isAuthorized(authorizerAppId: string): boolean;
  /** The `refresh_token` api_get_authorizer_list shows for it ('' possible); undefined when not listed. */
  listedRefreshToken(authorizerAppId: string): string | undefined;
  /** Status of a component_access_token or authorizer_access_token by the clock. */
  tokenStatus(token: string): TokenStatus;
  /** Whether WeChat accepted (or, by what it knows now, accepts) `token` at clock time `at`. */
  tokenValidAt(token: string, at: number): boolean;
  /**
   * Calls of `api` counted against its daily quota on the Beijing day of `at` (default: now). For
   * `api_authorizer_token` pass the authorizer appid (without it: all authorizers together); for
   * `getApiQuota` and the callers' authorizer-token APIs the authorizer whose token called it (without
   * it: the calls with the component token; for `getTicket`, both types together).
   */
  quotaUsed(api: SimulatedApi, authorizerAppId?: string, at?: number): number;
  /** `getticket` calls of `type` the authorizer made on the Beijing day of `at` (its 45009 count). */
  ticketQuotaUsed(authorizerAppId: string, type: TicketType, at?: number): number;
  /**
   * A JS-SDK / card ticket's status by the clock: `valid` (the newest, or superseded within
   * `supersededGraceMs`), `superseded`, `expired` (7200 s), or `unknown`.
   */
  ticketStatus(ticket: string): TokenStatus;
  /** The newest ticket of `type` getticket issued to the authorizer, if any. */
  currentTicket(authorizerAppId: string, type: TicketType): string | undefined;
  /**
   * The openid of `user` (any name; default 'user-1') in the authorizer's account: 28 characters, another
   * one per account. The user follows the account from then on (user/info answers it).
   */
  openId(authorizerAppId: string, user?: string): string;
  /**
   * `user` sends the account a message: customer-service messages to it are accepted for the next
   * `customerServiceWindowMs` (48 h; 45015 after). Returns its openid.
   */
  messageFrom(authorizerAppId: string, user?: string): string;
  /** What `wx.login` gives `user` in mini program `authorizerAppId`: a code for jscode2session (5 min, once). */
  loginCode(authorizerAppId: string, user?: string): string;
  /** Resolves when no push is in flight (e.g. the one api_start_push_ticket triggers). */
  /**
   * Runs `change` (revocations, authorizations) right before WeChat answers the next page of
   * `api_get_authorizer_list` after the first: the set changes while it is paged by offset, entries move
   * between pages and `total_count` may stay the same (protocol §11.11).
   */
  beforeNextListPage(change: () => void): void;
  /**
   * The service's answers to the next `n` pushes are lost on the way back: WeChat delivers each again at
   * the next `flushPushes` (late, duplicated, after newer pushes: protocol §11.9).
   */
  loseNextPushAnswers(n: number): void;
  flushPushes(): Promise<void>;
  readonly calls: readonly CallRecord[];
  callCount(api: CallName): number;
  resetCalls(): void;
  readonly state: SimulatorState;
  /** Pushes sent (or skipped) and our service's answers, oldest first. Clear with `pushes.length = 0`. */
  readonly pushes: PushRecord[];
}
