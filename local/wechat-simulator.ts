import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../shared/clock';
import { MsgCrypto, sha1Signature } from '../shared/crypto/msg-crypto';
import {
  type ApiName,
  ApiPath,
  type AuthorizerInfoResponse,
  type AuthorizerListResponse,
  type AuthorizerTokenResponse,
  type ComponentTokenResponse,
  type FuncInfo,
  type PreAuthCodeResponse,
  type QueryAuthResponse,
} from '../shared/wechat/wire';

/**
 * A local test double of WeChat's side of a third-party platform (第三方平台): the component APIs of
 * https://api.weixin.qq.com (legacy `/cgi-bin/component/api_*` paths), the merchant's authorization page of
 * https://mp.weixin.qq.com / https://open.weixin.qq.com, and the encrypted pushes WeChat sends to the
 * platform's authorization event URL (ticket every N ms, authorized / updateauthorized / unauthorized).
 *
 * Answers use WeChat's real shapes, errcodes and errmsg prefixes (with a ` rid: …` suffix), and model the
 * lifetimes that matter: tickets 12 h, tokens 7200 s with a 5-minute overlap after a newer one is issued,
 * pre-auth and auth codes 600 s and single-use. Time comes from an injectable clock. Faults can be queued
 * per API. Only `node:http`, bound to 127.0.0.1. Used by the sandbox, integration/e2e tests and benchmarks.
 *
 * @see ../../../shared/docs/wechat-protocol.md §2–§6 in the design folder
 */

/** What the simulator can do instead of answering normally (see {@link WechatSimulator.failNext}). */
export type Fault =
  | { errcode: number; errmsg?: string }
  | 'timeout'
  | 'reset'
  | 'html'
  | 'http500'
  | 'empty';

export interface SimulatorOptions {
  componentAppId: string;
  componentAppSecret: string;
  /** Message token (消息校验Token) used for push signatures. */
  token: string;
  /** 43-character EncodingAESKey used to encrypt pushes. */
  encodingAesKey: string;
  /** Where to POST encrypted pushes (e.g. http://127.0.0.1:3000/wechat/events). Unset: pushes are recorded, not sent. */
  eventUrl?: string;
  /** Push a fresh component_verify_ticket every N ms (WeChat: 10 min). 0/undefined = no timer. */
  ticketIntervalMs?: number;
  /** Added latency per API call in ms (benchmarks use 50). */
  latencyMs?: number;
  /** Injectable clock (epoch ms) so tests can move time; default Date.now. */
  clock?: Clock;
  /** Default 0 (ephemeral). The host is always 127.0.0.1. */
  port?: number;
  /** The requestIP reported in 61004 errors. Default '203.0.113.7'. */
  egressIp?: string;
}

/**
 * Who made a recorded request: an API, the authorization page (GET), its confirm (POST), the merchant's
 * revocation (`POST /simulator/unauthorize`), or anything else.
 */
export type CallName = ApiName | 'confirm_page' | 'confirm' | 'unauthorize' | 'unknown';

export interface CallRecord {
  api: CallName;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON (APIs), form fields (confirm), or the raw text when it is not JSON. */
  body: unknown;
  /** Clock time (epoch ms) when the request arrived. */
  at: number;
  /** The errcode answered, if any (also for injected `{errcode}` faults). */
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
  /** Clock time (epoch ms) of the push. */
  at: number;
  /** The decrypted payload XML that was encrypted and sent. */
  xml: string;
  authorizerAppId?: string;
  /** Why nothing (or no answer) came back: no eventUrl, connection refused, timeout… */
  error?: string;
}

/** A token's lifetime: valid until min(expiresAt, supersededAt + 5 min). */
export interface TokenView {
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** When a newer token of the same kind was issued (starts the 5-minute transition). */
  readonly supersededAt?: number;
}
export type TokenStatus = 'valid' | 'expired' | 'superseded' | 'unknown';

export interface AuthorizerView {
  readonly refreshToken: string;
  readonly accessTokens: ReadonlyMap<string, TokenView>;
  readonly funcIds: readonly number[];
  readonly active: boolean;
  /** Epoch seconds of the latest authorization (as in api_get_authorizer_list). */
  readonly authTime: number;
  readonly userName: string;
  readonly nickName: string;
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
      readonly preAuthCode: string;
    }
  >;
  readonly authorizers: ReadonlyMap<string, AuthorizerView>;
  readonly pushesStopped: boolean;
  readonly whitelisted: boolean;
  readonly eventUrl: string | undefined;
}

/** A running simulator. All methods act on the simulated WeChat state; none throws on push failures. */
export interface WechatSimulator {
  /** `http://127.0.0.1:<port>`: use as the API base URL and as the authorization-page origin. */
  readonly url: string;
  /** Stops the timer, aborts pushes in flight, drops held ('timeout') sockets, closes the server. */
  close(): Promise<void>;
  setEventUrl(url: string | undefined): void;
  /** Mints `ticket@@@…` (CreateTime = clock), pushes it (even while stopped); returns our service's answer. */
  pushTicket(): Promise<{ ticket: string; status: number; body: string }>;
  /** {@link authorize} + the `authorized` (or `updateauthorized`) push carrying the new auth code. */
  pushAuthorized(
    authorizerAppId: string,
    opts?: { infoType?: 'authorized' | 'updateauthorized'; funcIds?: number[] }
  ): Promise<{ authCode: string; status: number; body: string }>;
  /** Revokes the authorization (61023 from then on, not listed) and pushes `unauthorized`. */
  pushUnauthorized(authorizerAppId: string): Promise<{ status: number; body: string }>;
  /**
   * The merchant confirms, without HTTP: creates or re-creates the authorization with a NEW refresh token
   * and returns a new auth code valid 600 s by the clock. No push.
   */
  authorize(authorizerAppId: string, funcIds?: number[]): string;
  /** The ticket push service stops (timer pushes are skipped) / resumes (as api_start_push_ticket does). */
  stopPushes(): void;
  resumePushes(): void;
  /** Queues `fault` for the next `times` (default 1) calls of `api` ('*' = any API; specific queues first). */
  failNext(api: ApiName | '*', fault: Fault, times?: number): void;
  clearFaults(): void;
  /** false: every API answers 61004 `access clientip is not registered requestIP: <egressIp> rid: …`. */
  setWhitelisted(ok: boolean): void;
  /** WeChat-side change: the stored refresh token becomes invalid (61023); the list shows the new one. */
  rotateRefreshToken(authorizerAppId: string): string;
  /** Revokes silently (no push): 61023 and not listed. */
  forgetAuthorizer(authorizerAppId: string): void;
  /** Status of a component_access_token or authorizer_access_token by the clock. */
  tokenStatus(token: string): TokenStatus;
  /** Resolves when no push is in flight (e.g. the one api_start_push_ticket triggers). */
  flushPushes(): Promise<void>;
  readonly calls: readonly CallRecord[];
  callCount(api: CallName): number;
  resetCalls(): void;
  readonly state: SimulatorState;
  /** Pushes sent (or skipped) and our service's answers, oldest first. Clear with `pushes.length = 0`. */
  readonly pushes: PushRecord[];
}

// ---------------------------------------------------------------------------------------------------------
// Constants and small helpers
// ---------------------------------------------------------------------------------------------------------

const SECOND = 1000;
const TICKET_TTL_MS = 12 * 3600 * SECOND;
const TOKEN_TTL_S = 7200;
const CODE_TTL_S = 600;
const TRANSITION_MS = 300 * SECOND;
const LIST_MAX_COUNT = 500;
const PUSH_TIMEOUT_MS = 5000;
const MAX_BODY_BYTES = 1 << 20;
const DEFAULT_FUNC_IDS = [1, 2, 3];
const AUTH_TYPES = new Set(['1', '2', '3', '4', '5', '6', '8']);
const APPID_PATTERN = /^wx[0-9A-Za-z]{4,30}$/;
const JSON_TYPE = 'application/json; encoding=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const CONFIRM_PATH = '/simulator/confirm';
/**
 * Simulator-only control route: `POST /simulator/unauthorize?authorizer_appid=wx…` plays the merchant
 * revoking the authorization in WeChat's console, i.e. {@link WechatSimulator.pushUnauthorized} over HTTP
 * (the sandbox's way to show revocation). Answers JSON: `{errcode: 0, errmsg: 'ok', push: {status, body}}`,
 * or 47001 (no/invalid appid) / 61003 (not an active authorizer) with HTTP 400 / 404.
 */
const UNAUTHORIZE_PATH = '/simulator/unauthorize';
/** PC QR page, H5 new host, H5 legacy host (the simulator serves all three on one origin). */
const AUTH_PAGES = new Map([
  ['/cgi-bin/componentloginpage', false],
  ['/wxaopen/safe/bindcomponent', true],
  ['/safe/bindcomponent', true],
]);
const API_BY_PATH = new Map<string, ApiName>(
  Object.entries(ApiPath).map(([api, path]) => [path, api as ApiName])
);

/** Real errmsg prefixes (wechat-protocol.md §3 and the fixtures). */
const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40125: 'invalid appsecret',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  42001: 'access_token expired',
  43002: 'require POST method',
  45009: 'reach max api daily quota limit',
  47001: 'data format error',
  48001: 'api unauthorized',
  48006: 'forbid to clear quota because of reaching the limit',
  50002: 'user limited',
  61003: 'component is not authorized by this account',
  61004: 'access clientip is not registered',
  61005: 'component ticket is expired',
  61006: 'component ticket is invalid',
  61007: 'api is unauthorized to component',
  61009: 'code is invalid',
  61010: 'code is expired',
  61011: 'invalid component',
  61014: 'must use component token for component api',
  61023: 'refresh_token is invalid',
};

const DOMAIN_ERROR =
  '请确认授权入口页所在域名，与授权后回调页所在域名相同，并且，此两者都必须与申请第三方平台时填写的授权发起页域名相同。授权入口页所在域名：';

const b64url = (bytes: number) => randomBytes(bytes).toString('base64url');
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const seconds = (ms: number) => Math.floor(ms / SECOND);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An API answer with an errcode, thrown inside handlers. */
class ApiFailure extends Error {
  constructor(readonly errcode: number) {
    super(`errcode ${errcode}`);
  }
}
function fail(errcode: number): never {
  throw new ApiFailure(errcode);
}

interface Token {
  issuedAt: number;
  expiresAt: number;
  supersededAt?: number;
}

function statusOf(token: Token | undefined, now: number): TokenStatus {
  if (!token) return 'unknown';
  const graceEnd = token.supersededAt === undefined ? Infinity : token.supersededAt + TRANSITION_MS;
  if (now < Math.min(token.expiresAt, graceEnd)) return 'valid';
  return graceEnd < token.expiresAt ? 'superseded' : 'expired';
}

/** Issues `value`; every older token of the map gets its 5-minute transition. Prunes long-dead ones. */
function issueToken(tokens: Map<string, Token>, value: string, now: number): void {
  for (const token of tokens.values()) token.supersededAt ??= now;
  if (tokens.size > 1000) {
    for (const [key, token] of tokens) {
      if (statusOf(token, now - 24 * 3600 * SECOND) !== 'valid') tokens.delete(key);
    }
  }
  tokens.set(value, { issuedAt: now, expiresAt: now + TOKEN_TTL_S * SECOND });
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string
  );
}

const cdata = (value: string) => `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

/** `<xml>` with string values in CDATA and numbers bare, as WeChat's pushes are. */
function payloadXml(fields: [string, string | number][]): string {
  const inner = fields
    .map(([name, v]) => `<${name}>${typeof v === 'number' ? v : cdata(v)}</${name}>`)
    .join('');
  return `<xml>${inner}</xml>`;
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: OutgoingHttpHeaders = {}
): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** The request body as text; undefined when it exceeds 1 MB. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8'))
    );
    req.on('error', reject);
  });
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A string field; absent or not a string → 47001 data format error (empty strings pass through). */
function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value : fail(47001);
}

const funcInfo = (ids: readonly number[]): FuncInfo[] =>
  ids.map((id) => ({ funcscope_category: { id } }));

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body>
${body}
</body></html>
`;
}

function errorPage(message: string): string {
  return page('微信公众平台', `<h1>授权失败</h1>\n<p id="error">${escapeHtml(message)}</p>`);
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}

// ---------------------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------------------

interface Authorizer {
  refreshToken: string;
  accessTokens: Map<string, Token>;
  funcIds: number[];
  active: boolean;
  authTime: number;
  userName: string;
  nickName: string;
}
interface AuthCode {
  authorizerAppId: string;
  expiresAt: number;
  used: boolean;
  preAuthCode: string;
}
type LinkCheck =
  | { ok: true; preAuthCode: string; redirectUri: string; funcIds: number[]; bizAppId?: string }
  | { ok: false; message: string };

class Simulator implements WechatSimulator {
  url = '';
  readonly calls: CallRecord[] = [];
  readonly pushes: PushRecord[] = [];

  readonly #options: SimulatorOptions;
  readonly #clock: Clock;
  readonly #egressIp: string;
  readonly #crypto: MsgCrypto;
  readonly #server = createServer((req, res) => void this.#onRequest(req, res));
  readonly #abort = new AbortController();
  readonly #inflight = new Set<Promise<void>>();
  readonly #held = new Set<ServerResponse>();
  readonly #faults = new Map<ApiName | '*', { fault: Fault; remaining: number }[]>();
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #eventUrl: string | undefined;
  #stopped = false;
  #whitelisted = true;

  // WeChat's state
  readonly #tickets = new Map<string, { createdAt: number }>();
  #latestTicket: string | undefined;
  readonly #componentTokens = new Map<string, Token>();
  readonly #preAuthCodes = new Map<
    string,
    { issuedAt: number; expiresAt: number; used: boolean }
  >();
  readonly #authCodes = new Map<string, AuthCode>();
  readonly #authorizers = new Map<string, Authorizer>();

  constructor(options: SimulatorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#egressIp = options.egressIp ?? '203.0.113.7';
    this.#eventUrl = options.eventUrl;
    this.#crypto = new MsgCrypto({
      token: options.token,
      encodingAesKey: options.encodingAesKey,
      appId: options.componentAppId,
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    const interval = this.#options.ticketIntervalMs;
    if (interval && interval > 0) {
      this.#timer = setInterval(() => {
        if (!this.#stopped && !this.#closing) void this.pushTicket();
      }, interval);
      this.#timer.unref();
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#abort.abort();
      for (const res of this.#held) res.socket?.destroy();
      await this.flushPushes();
      await new Promise<void>((resolve) => {
        this.#server.close(() => resolve());
        this.#server.closeAllConnections();
      });
    })();
    return this.#closing;
  }

  get state(): SimulatorState {
    const self = this;
    return {
      tickets: self.#tickets,
      get latestTicket() {
        return self.#latestTicket;
      },
      componentTokens: self.#componentTokens,
      preAuthCodes: self.#preAuthCodes,
      authCodes: self.#authCodes,
      authorizers: self.#authorizers,
      get pushesStopped() {
        return self.#stopped;
      },
      get whitelisted() {
        return self.#whitelisted;
      },
      get eventUrl() {
        return self.#eventUrl;
      },
    };
  }

  setEventUrl(url: string | undefined): void {
    this.#eventUrl = url;
  }
  stopPushes(): void {
    this.#stopped = true;
  }
  resumePushes(): void {
    this.#stopped = false;
  }
  setWhitelisted(ok: boolean): void {
    this.#whitelisted = ok;
  }
  callCount(api: CallName): number {
    return this.calls.filter((call) => call.api === api).length;
  }
  resetCalls(): void {
    this.calls.length = 0;
  }

  failNext(api: ApiName | '*', fault: Fault, times = 1): void {
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError('times must be a positive integer');
    }
    const queue = this.#faults.get(api) ?? [];
    queue.push({ fault, remaining: times });
    this.#faults.set(api, queue);
  }
  clearFaults(): void {
    this.#faults.clear();
  }

  tokenStatus(token: string): TokenStatus {
    const now = this.#clock();
    const component = this.#componentTokens.get(token);
    if (component) return statusOf(component, now);
    for (const authorizer of this.#authorizers.values()) {
      const found = authorizer.accessTokens.get(token);
      if (found) return statusOf(found, now);
    }
    return 'unknown';
  }

  async flushPushes(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  // --- authorizations ----------------------------------------------------------------------------------

  authorize(authorizerAppId: string, funcIds: number[] = DEFAULT_FUNC_IDS): string {
    return this.#authorize(authorizerAppId, funcIds, this.#mintPreAuthCode(true));
  }

  #authorize(authorizerAppId: string, funcIds: readonly number[], preAuthCode: string): string {
    const now = this.#clock();
    const existing = this.#authorizers.get(authorizerAppId);
    const authorizer: Authorizer = existing ?? {
      refreshToken: '',
      accessTokens: new Map(),
      funcIds: [],
      active: false,
      authTime: 0,
      userName: `gh_${hex(6)}`,
      nickName: `模拟公众号 ${authorizerAppId.slice(-4)}`,
    };
    authorizer.refreshToken = `refreshtoken@@@${b64url(32)}`;
    authorizer.funcIds = [...new Set(funcIds)];
    authorizer.active = true;
    authorizer.authTime = seconds(now);
    this.#authorizers.set(authorizerAppId, authorizer);
    const code = `queryauthcode@@@${b64url(48)}`;
    this.#authCodes.set(code, {
      authorizerAppId,
      expiresAt: now + CODE_TTL_S * SECOND,
      used: false,
      preAuthCode,
    });
    return code;
  }

  rotateRefreshToken(authorizerAppId: string): string {
    const authorizer = this.#authorizers.get(authorizerAppId);
    if (!authorizer?.active) throw new Error(`no active authorization for ${authorizerAppId}`);
    authorizer.refreshToken = `refreshtoken@@@${b64url(32)}`;
    return authorizer.refreshToken;
  }

  forgetAuthorizer(authorizerAppId: string): void {
    const authorizer = this.#authorizers.get(authorizerAppId);
    if (!authorizer) return;
    const now = this.#clock();
    authorizer.active = false;
    for (const token of authorizer.accessTokens.values()) {
      token.expiresAt = Math.min(token.expiresAt, now);
    }
    for (const [code, record] of this.#authCodes) {
      if (record.authorizerAppId === authorizerAppId) this.#authCodes.delete(code);
    }
  }

  #mintPreAuthCode(used: boolean): string {
    const now = this.#clock();
    const code = `preauthcode@@@${b64url(48)}`;
    this.#preAuthCodes.set(code, { issuedAt: now, expiresAt: now + CODE_TTL_S * SECOND, used });
    return code;
  }

  // --- pushes ------------------------------------------------------------------------------------------

  async pushTicket(): Promise<{ ticket: string; status: number; body: string }> {
    const now = this.#clock();
    const ticket = `ticket@@@${b64url(64)}`;
    if (this.#tickets.size > 500) {
      for (const [key, t] of this.#tickets) {
        if (now - t.createdAt > 4 * TICKET_TTL_MS) this.#tickets.delete(key);
      }
    }
    this.#tickets.set(ticket, { createdAt: now });
    this.#latestTicket = ticket;
    const answer = await this.#push('component_verify_ticket', [['ComponentVerifyTicket', ticket]]);
    return { ticket, ...answer };
  }

  async pushAuthorized(
    authorizerAppId: string,
    opts: { infoType?: 'authorized' | 'updateauthorized'; funcIds?: number[] } = {}
  ): Promise<{ authCode: string; status: number; body: string }> {
    const authCode = this.authorize(authorizerAppId, opts.funcIds);
    const answer = await this.#pushAuthorization(opts.infoType ?? 'authorized', authCode);
    return { authCode, ...answer };
  }

  async pushUnauthorized(authorizerAppId: string): Promise<{ status: number; body: string }> {
    this.forgetAuthorizer(authorizerAppId);
    return this.#push('unauthorized', [['AuthorizerAppid', authorizerAppId]], authorizerAppId);
  }

  #pushAuthorization(infoType: string, authCode: string) {
    const record = this.#authCodes.get(authCode) as AuthCode;
    return this.#push(
      infoType,
      [
        ['AuthorizerAppid', record.authorizerAppId],
        ['AuthorizationCode', authCode],
        ['AuthorizationCodeExpiredTime', seconds(record.expiresAt)],
        ['PreAuthCode', record.preAuthCode],
      ],
      record.authorizerAppId
    );
  }

  /** Encrypts and POSTs one event; records the outcome; never throws. */
  async #push(
    infoType: string,
    fields: [string, string | number][],
    authorizerAppId?: string
  ): Promise<{ status: number; body: string }> {
    const now = this.#clock();
    const appId = this.#options.componentAppId;
    const xml = payloadXml([
      ['AppId', appId],
      ['CreateTime', seconds(now)],
      ['InfoType', infoType],
      ...fields,
    ]);
    const record: PushRecord = { infoType, status: 0, body: '', at: now, xml };
    if (authorizerAppId) record.authorizerAppId = authorizerAppId;
    this.pushes.push(record);
    const eventUrl = this.#eventUrl;
    if (!eventUrl || this.#closing) {
      record.error = eventUrl ? 'simulator is closing' : 'no eventUrl set';
      return { status: 0, body: '' };
    }
    const timestamp = String(seconds(now));
    const sealed = this.#crypto.encrypt(xml, { timestamp });
    const query = new URLSearchParams({
      signature: sha1Signature(this.#options.token, timestamp, sealed.nonce),
      timestamp,
      nonce: sealed.nonce,
      encrypt_type: 'aes',
      msg_signature: sealed.msgSignature,
    });
    const target = `${eventUrl}${eventUrl.includes('?') ? '&' : '?'}${query}`;
    const envelope = `<xml><AppId>${cdata(appId)}</AppId><Encrypt>${cdata(sealed.encrypt)}</Encrypt></xml>`;
    const task = (async () => {
      try {
        const response = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'text/xml' },
          body: envelope,
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(PUSH_TIMEOUT_MS)]),
        });
        record.status = response.status;
        record.body = await response.text();
      } catch (error) {
        record.error = describeError(error);
      }
    })();
    await this.#track(task);
    return { status: record.status, body: record.body };
  }

  /** Registers work that {@link flushPushes} and {@link close} wait for. */
  #track(task: Promise<unknown>): Promise<void> {
    const settled = task.then(
      () => {},
      () => {}
    );
    this.#inflight.add(settled);
    return settled.finally(() => this.#inflight.delete(settled));
  }

  // --- HTTP --------------------------------------------------------------------------------------------

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const api = API_BY_PATH.get(url.pathname);
      if (api) return await this.#onApi(api, req, res, url);
      const h5 = AUTH_PAGES.get(url.pathname);
      if (h5 !== undefined && req.method === 'GET') return this.#onAuthPage(req, res, url, h5);
      if (url.pathname === CONFIRM_PATH && req.method === 'POST') {
        return await this.#onConfirm(req, res, url);
      }
      if (url.pathname === UNAUTHORIZE_PATH && req.method === 'POST') {
        return await this.#onUnauthorize(req, res, url);
      }
      const raw = await readBody(req);
      this.#record('unknown', req, url, raw, 48001);
      const errmsg = this.#errmsg(48001).replace(
        ' rid:',
        ` (simulator: no ${req.method} ${url.pathname}) rid:`
      );
      send(res, 404, JSON_TYPE, JSON.stringify({ errcode: 48001, errmsg }));
    } catch (error) {
      const errmsg = `system error (simulator: ${describeError(error)}) rid: ${this.#rid()}`;
      send(res, 500, JSON_TYPE, JSON.stringify({ errcode: -1, errmsg }));
    }
  }

  #record(api: CallName, req: IncomingMessage, url: URL, body: unknown, errcode?: number) {
    const call: CallRecord = {
      api,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      at: this.#clock(),
    };
    if (errcode !== undefined) call.errcode = errcode;
    this.calls.push(call);
    return call;
  }

  async #onApi(api: ApiName, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const raw = await readBody(req);
    const json = parseJsonObject(raw);
    const call = this.#record(api, req, url, json ?? raw);
    if (this.#options.latencyMs) await sleep(this.#options.latencyMs);
    const fault = this.#takeFault(api);
    if (fault !== undefined) return this.#applyFault(fault, call, res);
    let answer: object;
    try {
      answer = this.#answer(api, req.method ?? 'GET', call.query, json);
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      call.errcode = error.errcode;
      answer = { errcode: error.errcode, errmsg: this.#errmsg(error.errcode) };
    }
    send(res, 200, JSON_TYPE, JSON.stringify(answer));
  }

  #takeFault(api: ApiName): Fault | undefined {
    for (const key of [api, '*'] as const) {
      const queue = this.#faults.get(key);
      const head = queue?.[0];
      if (!queue || !head) continue;
      if (--head.remaining <= 0) queue.shift();
      return head.fault;
    }
    return undefined;
  }

  #applyFault(fault: Fault, call: CallRecord, res: ServerResponse): void {
    if (typeof fault === 'object') {
      call.fault = 'errcode';
      call.errcode = fault.errcode;
      const errmsg = fault.errmsg ?? this.#errmsg(fault.errcode);
      send(res, 200, JSON_TYPE, JSON.stringify({ errcode: fault.errcode, errmsg }));
      return;
    }
    call.fault = fault;
    switch (fault) {
      case 'timeout':
        this.#held.add(res);
        res.on('close', () => this.#held.delete(res));
        return;
      case 'reset':
        res.socket?.destroy();
        return;
      case 'html':
        send(res, 200, HTML_TYPE, page('微信公众平台', '<p>系统繁忙，请稍后再试。</p>'));
        return;
      case 'http500':
        send(res, 500, 'text/plain; charset=utf-8', 'Internal Server Error');
        return;
      case 'empty':
        send(res, 200, JSON_TYPE, '');
        return;
    }
  }

  #rid(): string {
    return `${seconds(this.#clock()).toString(16).padStart(8, '0')}-${hex(4)}-${hex(4)}`;
  }

  #errmsg(errcode: number): string {
    const ip = this.#egressIp;
    let prefix = ERRMSG[errcode] ?? `simulated error ${errcode}`;
    if (errcode === 61004) prefix = `${prefix} requestIP: ${ip}`;
    if (errcode === 40164) prefix = `invalid ip ${ip} ipv6 ::ffff:${ip}, not in whitelist`;
    return `${prefix} rid: ${this.#rid()}`;
  }

  // --- API handlers ------------------------------------------------------------------------------------

  #answer(
    api: ApiName,
    method: string,
    query: Record<string, string>,
    json: Record<string, unknown> | undefined
  ): object {
    const now = this.#clock();
    if (!this.#whitelisted) fail(61004);
    if (method !== 'POST') fail(43002);
    if (api !== 'api_component_token' && api !== 'api_start_push_ticket') {
      this.#checkComponentToken(query, now);
    }
    if (!json) fail(47001);
    this.#checkAppId(json.component_appid);
    switch (api) {
      case 'api_start_push_ticket':
        return this.#startPushTicket(json);
      case 'api_component_token':
        return this.#componentToken(json, now);
      case 'api_create_preauthcode':
        return {
          pre_auth_code: this.#mintPreAuthCode(false),
          expires_in: CODE_TTL_S,
        } satisfies PreAuthCodeResponse;
      case 'api_query_auth':
        return this.#queryAuth(json, now);
      case 'api_authorizer_token':
        return this.#authorizerToken(json, now);
      case 'api_get_authorizer_list':
        return this.#authorizerList(json);
      case 'api_get_authorizer_info':
        return this.#authorizerInfo(json);
    }
  }

  #checkComponentToken(query: Record<string, string>, now: number): void {
    const token = query.component_access_token ?? query.access_token;
    if (!token) fail(41001);
    const status = statusOf(this.#componentTokens.get(token), now);
    if (status === 'valid') return;
    if (status === 'expired') fail(42001);
    if (status === 'unknown' && this.tokenStatus(token) !== 'unknown') fail(61014);
    fail(40001);
  }

  #checkAppId(value: unknown): void {
    if (typeof value !== 'string' || value === '') fail(41002);
    if (value !== this.#options.componentAppId) fail(40013);
  }

  #checkSecret(value: unknown): void {
    if (typeof value !== 'string' || value === '') fail(41004);
    if (value !== this.#options.componentAppSecret) fail(40125);
  }

  #startPushTicket(body: Record<string, unknown>): object {
    this.#checkSecret(body.component_secret);
    const wasStopped = this.#stopped;
    this.#stopped = false;
    // Like WeChat, a ticket follows soon after the answer (flushPushes() waits for it).
    void this.#track(sleep(1).then(() => (this.#closing ? undefined : this.pushTicket())));
    return { errcode: 0, errmsg: wasStopped ? 'ok' : 'in a normal state' };
  }

  #componentToken(body: Record<string, unknown>, now: number): ComponentTokenResponse {
    this.#checkSecret(body.component_appsecret);
    const ticket = this.#tickets.get(stringField(body, 'component_verify_ticket'));
    if (!ticket) fail(61006);
    if (now - ticket.createdAt >= TICKET_TTL_MS) fail(61005);
    const token = b64url(64);
    issueToken(this.#componentTokens, token, now);
    return { component_access_token: token, expires_in: TOKEN_TTL_S };
  }

  #issueAuthorizerToken(authorizer: Authorizer, now: number): string {
    const token = b64url(80);
    issueToken(authorizer.accessTokens, token, now);
    return token;
  }

  #queryAuth(body: Record<string, unknown>, now: number): QueryAuthResponse {
    const code = this.#authCodes.get(stringField(body, 'authorization_code'));
    if (!code || code.used) fail(61009);
    if (now >= code.expiresAt) fail(61010);
    const authorizer = this.#authorizers.get(code.authorizerAppId);
    if (!authorizer?.active) fail(61009);
    code.used = true;
    return {
      authorization_info: {
        authorizer_appid: code.authorizerAppId,
        authorizer_access_token: this.#issueAuthorizerToken(authorizer, now),
        expires_in: TOKEN_TTL_S,
        authorizer_refresh_token: authorizer.refreshToken,
        func_info: funcInfo(authorizer.funcIds),
      },
    };
  }

  #authorizerToken(body: Record<string, unknown>, now: number): AuthorizerTokenResponse {
    const appId = stringField(body, 'authorizer_appid');
    const refreshToken = stringField(body, 'authorizer_refresh_token');
    const authorizer = this.#authorizers.get(appId);
    if (!refreshToken || !authorizer?.active || authorizer.refreshToken !== refreshToken) {
      fail(61023);
    }
    return {
      authorizer_access_token: this.#issueAuthorizerToken(authorizer, now),
      expires_in: TOKEN_TTL_S,
      authorizer_refresh_token: authorizer.refreshToken,
    };
  }

  #authorizerList(body: Record<string, unknown>): AuthorizerListResponse {
    const { offset, count } = body;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) fail(47001);
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) fail(47001);
    if (count > LIST_MAX_COUNT) fail(47001);
    const active = [...this.#authorizers].filter(([, a]) => a.active);
    return {
      total_count: active.length,
      list: active.slice(offset, offset + count).map(([appId, a]) => ({
        authorizer_appid: appId,
        refresh_token: a.refreshToken,
        auth_time: a.authTime,
      })),
    };
  }

  #authorizerInfo(body: Record<string, unknown>): AuthorizerInfoResponse {
    const appId = stringField(body, 'authorizer_appid');
    const a = this.#authorizers.get(appId);
    if (!a?.active) fail(61003);
    return {
      authorizer_info: {
        nick_name: a.nickName,
        head_img: `http://wx.qlogo.cn/mmopen/sim${appId}/0`,
        service_type_info: { id: 2 },
        verify_type_info: { id: 0 },
        user_name: a.userName,
        alias: '',
        qrcode_url: `http://mmbiz.qpic.cn/mmbiz_jpg/sim${appId}/0`,
        business_info: { open_pay: 0, open_shake: 0, open_scan: 0, open_card: 0, open_store: 0 },
        idc: 1,
        principal_name: '模拟科技有限公司',
        signature: 'Simulated account (wechat-simulator)',
        account_status: 1,
        basic_config: { is_phone_configured: true, is_email_configured: true },
      },
      authorization_info: {
        authorizer_appid: appId,
        authorizer_refresh_token: a.refreshToken,
        func_info: funcInfo(a.funcIds),
      },
    };
  }

  // --- the merchant's authorization page ---------------------------------------------------------------

  /** Validates an authorization link (GET, with `page`: Referer, H5 and auth_type) or the confirm form. */
  #checkLink(
    params: URLSearchParams,
    page?: { referer: string | undefined; h5: boolean }
  ): LinkCheck {
    const get = (name: string) => params.get(name) ?? '';
    if (get('component_appid') !== this.#options.componentAppId) {
      return { ok: false, message: 'component_appid 参数错误 (invalid component_appid)' };
    }
    let redirect: URL;
    try {
      redirect = new URL(get('redirect_uri'));
      if (redirect.protocol !== 'http:' && redirect.protocol !== 'https:') {
        throw new Error('scheme');
      }
    } catch {
      return {
        ok: false,
        message: 'redirect_uri 参数错误 (redirect_uri must be an absolute http(s) URL)',
      };
    }
    if (page) {
      let host = '';
      try {
        host = page.referer ? new URL(page.referer).hostname : '';
      } catch {
        // an unparsable Referer counts as no entry domain
      }
      if (!host || host !== redirect.hostname) {
        return { ok: false, message: DOMAIN_ERROR + (host || '空') };
      }
    }
    const preAuthCode = get('pre_auth_code');
    const pre = this.#preAuthCodes.get(preAuthCode);
    if (!pre) return { ok: false, message: 'pre_auth_code 无效 (invalid pre_auth_code)' };
    if (pre.used) {
      return { ok: false, message: 'pre_auth_code 已使用 (pre_auth_code already used)' };
    }
    if (this.#clock() >= pre.expiresAt) {
      return { ok: false, message: 'pre_auth_code 已过期 (pre_auth_code expired)' };
    }
    if (page?.h5 && (get('action') !== 'bindcomponent' || get('no_scan') !== '1')) {
      return { ok: false, message: '参数错误 (H5 link needs action=bindcomponent&no_scan=1)' };
    }
    if (page && !AUTH_TYPES.has(get('auth_type'))) {
      return { ok: false, message: 'auth_type 参数错误 (invalid auth_type)' };
    }
    const bizAppId = get('biz_appid') || undefined;
    if (bizAppId && !APPID_PATTERN.test(bizAppId)) {
      return { ok: false, message: 'biz_appid 参数错误 (invalid biz_appid)' };
    }
    const categories = get('category_id_list');
    if (categories && !/^\d+(\|\d+)*$/.test(categories)) {
      return { ok: false, message: 'category_id_list 参数错误 (expected ids separated by |)' };
    }
    const funcIds = categories ? categories.split('|').map(Number) : DEFAULT_FUNC_IDS;
    const result: LinkCheck = { ok: true, preAuthCode, redirectUri: get('redirect_uri'), funcIds };
    if (bizAppId) result.bizAppId = bizAppId;
    return result;
  }

  #onAuthPage(req: IncomingMessage, res: ServerResponse, url: URL, h5: boolean): void {
    this.#record('confirm_page', req, url, undefined);
    const q = url.searchParams;
    const check = this.#checkLink(q, { referer: req.headers.referer, h5 });
    if (!check.ok) {
      send(res, 200, HTML_TYPE, errorPage(check.message));
      return;
    }
    const hidden = (name: string, value: string | undefined) =>
      value ? `<input type="hidden" name="${name}" value="${escapeHtml(value)}">` : '';
    const appId = check.bizAppId ?? `wx${hex(8)}`;
    const platform = escapeHtml(this.#options.componentAppId);
    const body = `<h1>Simulated WeChat: authorize ${platform}?</h1>
<p>This page stands in for WeChat's authorization page (auth_type ${escapeHtml(q.get('auth_type') ?? '')}).</p>
<ul id="categories">${check.funcIds.map((id) => `<li>权限集 ${id}</li>`).join('')}</ul>
<form method="post" action="${CONFIRM_PATH}">
${hidden('component_appid', this.#options.componentAppId)}
${hidden('pre_auth_code', check.preAuthCode)}
${hidden('redirect_uri', check.redirectUri)}
${hidden('biz_appid', check.bizAppId)}
${hidden('category_id_list', q.get('category_id_list') ?? undefined)}
<label for="authorizer_appid">Authorizer appid</label>
<input id="authorizer_appid" name="authorizer_appid" value="${escapeHtml(appId)}"${check.bizAppId ? ' readonly' : ''}>
<button id="confirm" type="submit">Confirm authorization</button>
</form>`;
    send(
      res,
      200,
      HTML_TYPE,
      page(`Simulated WeChat: authorize ${this.#options.componentAppId}?`, body)
    );
  }

  /** The merchant revokes in WeChat's console: see {@link UNAUTHORIZE_PATH}. */
  async #onUnauthorize(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const form = new URLSearchParams((await readBody(req)) ?? '');
    const appId = url.searchParams.get('authorizer_appid') ?? form.get('authorizer_appid') ?? '';
    const call = this.#record('unauthorize', req, url, Object.fromEntries(form));
    const refuse = (status: number, errcode: number, detail: string) => {
      call.errcode = errcode;
      const errmsg = this.#errmsg(errcode).replace(' rid:', ` (simulator: ${detail}) rid:`);
      send(res, status, JSON_TYPE, JSON.stringify({ errcode, errmsg }));
    };
    if (!APPID_PATTERN.test(appId)) return refuse(400, 47001, 'authorizer_appid is required');
    if (!this.#authorizers.get(appId)?.active) {
      return refuse(404, 61003, `${appId} has no active authorization`);
    }
    const push = await this.pushUnauthorized(appId);
    send(res, 200, JSON_TYPE, JSON.stringify({ errcode: 0, errmsg: 'ok', push }));
  }

  async #onConfirm(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const form = new URLSearchParams((await readBody(req)) ?? '');
    this.#record('confirm', req, url, Object.fromEntries(form));
    const check = this.#checkLink(form);
    if (!check.ok) return send(res, 200, HTML_TYPE, errorPage(check.message));
    const appId = form.get('authorizer_appid') ?? '';
    if (!APPID_PATTERN.test(appId) || (check.bizAppId && appId !== check.bizAppId)) {
      return send(
        res,
        200,
        HTML_TYPE,
        errorPage('authorizer appid 无效 (invalid authorizer appid)')
      );
    }
    (this.#preAuthCodes.get(check.preAuthCode) as { used: boolean }).used = true;
    const before = this.#authorizers.get(appId);
    const changed =
      before?.active && before.funcIds.join('|') !== [...new Set(check.funcIds)].join('|');
    const authCode = this.#authorize(appId, check.funcIds, check.preAuthCode);
    await this.#pushAuthorization(changed ? 'updateauthorized' : 'authorized', authCode);
    const cut = check.redirectUri.indexOf('#');
    const base = cut < 0 ? check.redirectUri : check.redirectUri.slice(0, cut);
    const hash = cut < 0 ? '' : check.redirectUri.slice(cut);
    const query = `auth_code=${encodeURIComponent(authCode)}&expires_in=${CODE_TTL_S}`;
    const location = `${base}${base.includes('?') ? '&' : '?'}${query}${hash}`;
    send(res, 302, 'text/plain; charset=utf-8', '', { location });
  }
}

/**
 * Starts a simulator on 127.0.0.1 (ephemeral port unless `port` is given). See {@link WechatSimulator}.
 *
 * @throws ConfigError when `token` or `encodingAesKey` is unusable (from MsgCrypto).
 */
export async function startWechatSimulator(options: SimulatorOptions): Promise<WechatSimulator> {
  const simulator = new Simulator(options);
  await simulator.start();
  return simulator;
}
