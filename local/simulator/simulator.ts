import { isIP } from 'node:net';
import { ConfigError } from '../../shared/errors';
import type { SimulatedApi, TicketType } from './caller-paths';
import { WechatSealer } from './crypto';
import { MessageSender } from './messages';
import { PushSender } from './pushes';
import { runReleaseCheck } from './release-check';
import { type Rules, resolveRules } from './rules';
import { SimulatorServer } from './server';
import { type AuthCodeRecord, DEFAULT_FUNC_IDS, normalizeIp, WechatState } from './state';
import type {
  AccountType,
  CallName,
  CallRecord,
  Fault,
  MessageFields,
  MessageRecord,
  PushAnswer,
  PushFields,
  PushRecord,
  ReleaseCheckReport,
  SimulatorOptions,
  SimulatorState,
  TokenStatus,
  WechatSimulator,
} from './types';

/**
 * The {@link WechatSimulator} facade: WeChat's state and rules, its HTTP server, its pushes, the ticket
 * push service, the messages to the message URL and the release check, all on the simulator's own clock.
 */

const DEFAULT_EGRESS_IP = '203.0.113.7';
/** The ticket timer checks this often at most (it pushes only when the interval has passed on the clock). */
const MAX_TICK_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The whitelist as the state keeps it: normalized addresses. @throws ConfigError for a non-IP entry. */
function whitelistSet(addresses: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (addresses === undefined) return undefined;
  const bad = addresses.filter((address) => isIP(address) === 0);
  if (bad.length > 0) {
    throw new ConfigError(bad.map((address) => `whitelist: "${address}" is not an IP address`));
  }
  return new Set(addresses.map(normalizeIp));
}

/** See {@link WechatSimulator}; started by `startWechatSimulator`. */
export class Simulator implements WechatSimulator {
  url = '';
  readonly rules: Rules;
  readonly #state: WechatState;
  readonly #pushes: PushSender;
  readonly #messages: MessageSender;
  readonly #server: SimulatorServer;
  readonly #ticketIntervalMs: number;
  #lastTicketAt = 0;
  /** The ticket push in flight, so that a catchUp() that finds it already sent waits for it. */
  #ticketPush: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  /** @throws ConfigError when `token` or `encodingAesKey` is unusable, or a whitelist entry is no IP. */
  constructor(options: SimulatorOptions) {
    this.rules = resolveRules(options.rules);
    const { componentAppId, componentAppSecret } = options;
    const clock = options.clock ?? Date.now;
    const { clockSkewMs } = this.rules;
    this.#state = new WechatState(
      { componentAppId, componentAppSecret },
      this.rules,
      clockSkewMs === 0 ? clock : () => clock() + clockSkewMs
    );
    this.#state.eventUrl = options.eventUrl;
    this.#state.messageUrl = options.messageUrl;
    this.#state.whitelist = whitelistSet(options.whitelist);
    const sealer = new WechatSealer({
      token: options.token,
      encodingAesKey: options.encodingAesKey,
      componentAppId,
    });
    this.#pushes = new PushSender(this.#state, sealer, this.rules.retryUnansweredPushes);
    this.#messages = new MessageSender(this.#state, sealer, this.rules.retryUnansweredPushes);
    this.#ticketIntervalMs = options.ticketIntervalMs ?? 0;
    this.#server = new SimulatorServer({
      state: this.#state,
      port: options.port ?? 0,
      latencyMs: options.latencyMs ?? 0,
      egressIp: options.egressIp ?? DEFAULT_EGRESS_IP,
      // Like WeChat, a ticket follows soon after the answer (flushPushes() waits for it).
      onPushTicketStarted: () =>
        void this.#pushes.track(
          sleep(1).then(() => (this.#closing ? undefined : this.pushTicket()))
        ),
      pushAuthorization: (infoType, authCode) => this.#pushAuthorization(infoType, authCode),
      revoke: (authorizerAppId, push) => this.revoke(authorizerAppId, { push }),
      runReleaseCheck: () => this.runReleaseCheck(),
    });
  }

  /** Listens on 127.0.0.1 and starts the ticket push service's timer (when it has an interval). */
  async start(): Promise<void> {
    this.url = await this.#server.listen();
    this.#lastTicketAt = this.now();
    const interval = this.#ticketIntervalMs;
    if (interval > 0) {
      const tick = Math.max(1, Math.min(MAX_TICK_MS, Math.ceil(interval / 4)));
      this.#timer = setInterval(() => void this.catchUp(), tick);
      this.#timer.unref();
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      await Promise.all([this.#pushes.close(), this.#messages.close(), this.#server.close()]);
    })();
    return this.#closing;
  }

  now(): number {
    return this.#state.clock();
  }

  get state(): SimulatorState {
    return this.#state;
  }
  get calls(): readonly CallRecord[] {
    return this.#server.calls;
  }
  get pushes(): PushRecord[] {
    return this.#pushes.records;
  }

  get messages(): MessageRecord[] {
    return this.#messages.records;
  }

  setEventUrl(url: string | undefined): void {
    this.#state.eventUrl = url;
  }
  setMessageUrl(url: string | undefined): void {
    this.#state.messageUrl = url;
  }
  stopPushes(): void {
    this.#state.pushesStopped = true;
  }
  resumePushes(): void {
    this.#state.pushesStopped = false;
  }
  setWhitelisted(ok: boolean): void {
    this.#state.whitelisted = ok;
  }
  setWhitelist(addresses: readonly string[] | undefined): void {
    this.#state.whitelist = whitelistSet(addresses);
  }
  callCount(api: CallName): number {
    return this.#server.calls.filter((call) => call.api === api).length;
  }
  resetCalls(): void {
    this.#server.calls.length = 0;
  }
  failNext(api: SimulatedApi | '*', fault: Fault, times = 1): void {
    this.#server.faults.add(api, fault, times);
  }
  clearFaults(api?: SimulatedApi | '*'): void {
    this.#server.faults.clear(api);
  }

  // --- inspection --------------------------------------------------------------------------------------

  tokenStatus(token: string): TokenStatus {
    return this.#state.tokenStatus(token);
  }
  tokenValidAt(token: string, at: number): boolean {
    return this.#state.tokenValidAt(token, at);
  }
  quotaUsed(api: SimulatedApi, authorizerAppId?: string, at?: number): number {
    return this.#state.quotaUsed(api, authorizerAppId, at);
  }
  ticketQuotaUsed(authorizerAppId: string, type: TicketType, at?: number): number {
    return this.#state.quotaUsed('getTicket', authorizerAppId, at, type);
  }
  ticketStatus(ticket: string): TokenStatus {
    return this.#state.callers.ticketStatus(ticket);
  }
  currentTicket(authorizerAppId: string, type: TicketType): string | undefined {
    return this.#state.callers.currentTicket(authorizerAppId, type);
  }

  // --- the callers' side -------------------------------------------------------------------------------

  openId(authorizerAppId: string, user?: string): string {
    return this.#state.callers.openId(authorizerAppId, user);
  }
  messageFrom(authorizerAppId: string, user?: string): string {
    return this.#state.callers.messageFrom(authorizerAppId, user);
  }
  loginCode(authorizerAppId: string, user?: string): string {
    return this.#state.callers.mintLoginCode(authorizerAppId, user);
  }
  isAuthorized(authorizerAppId: string): boolean {
    return this.#state.authorizers.get(authorizerAppId)?.active === true;
  }
  listedRefreshToken(authorizerAppId: string): string | undefined {
    return this.#state.listedRefreshToken(authorizerAppId);
  }
  /**
   * The service's answers to the next `n` pushes are lost on the way back: WeChat delivers each again at
   * the next {@link flushPushes} (late, duplicated, after newer pushes: §11.9).
   */
  loseNextPushAnswers(n: number): void {
    this.#pushes.loseNextAnswers(n);
  }

  async flushPushes(): Promise<void> {
    await this.#pushes.flush();
  }

  // --- authorizations ----------------------------------------------------------------------------------

  authorize(
    authorizerAppId: string,
    funcIds: number[] = [...DEFAULT_FUNC_IDS],
    opts: { apiPermission?: boolean; keepTokens?: boolean; accountType?: AccountType } = {}
  ): string {
    const preAuthCode = this.#state.mintPreAuthCode(true);
    return this.#state.authorize(authorizerAppId, funcIds, preAuthCode, opts);
  }

  rotateRefreshToken(authorizerAppId: string): string {
    return this.#state.rotateRefreshToken(authorizerAppId);
  }

  renewElsewhere(authorizerAppId: string): string {
    const refreshToken = this.#state.authorizers.get(authorizerAppId)?.refreshToken ?? '';
    return this.#state.refreshAuthorizerToken(authorizerAppId, refreshToken).accessToken;
  }

  beforeNextListPage(change: () => void): void {
    this.#state.setListPageHook(change);
  }

  setListedWithoutRefreshToken(authorizerAppId: string, on: boolean): void {
    this.#state.setListedWithoutRefreshToken(authorizerAppId, on);
  }

  revoke(authorizerAppId: string, opts: { push?: boolean } = {}): Promise<PushAnswer> {
    this.#state.revoke(authorizerAppId);
    return this.#pushes.send(
      'unauthorized',
      { AuthorizerAppid: authorizerAppId },
      { authorizerAppId, deliver: opts.push ?? true }
    );
  }

  pushUnauthorized(authorizerAppId: string): Promise<PushAnswer> {
    return this.revoke(authorizerAppId);
  }

  forgetAuthorizer(authorizerAppId: string): void {
    void this.revoke(authorizerAppId, { push: false });
  }

  // --- pushes ------------------------------------------------------------------------------------------

  async pushTicket(): Promise<{ ticket: string } & PushAnswer> {
    const ticket = this.#state.mintTicket();
    this.#lastTicketAt = this.now();
    const push = this.#pushes.send('component_verify_ticket', { ComponentVerifyTicket: ticket });
    this.#ticketPush = push;
    const answer = await push;
    return { ticket, ...answer };
  }

  async catchUp(): Promise<void> {
    if (this.#ticketIntervalMs <= 0 || this.#state.pushesStopped || this.#closing) return;
    if (this.now() - this.#lastTicketAt < this.#ticketIntervalMs) {
      await this.#ticketPush;
      return;
    }
    await this.pushTicket();
  }

  async pushAuthorized(
    authorizerAppId: string,
    opts: {
      infoType?: 'authorized' | 'updateauthorized';
      funcIds?: number[];
      apiPermission?: boolean;
      deliver?: boolean;
      /** Official account (the default) or mini program: decides the messages it gets. */
      accountType?: AccountType;
    } = {}
  ): Promise<{ authCode: string } & PushAnswer> {
    const authCode = this.authorize(authorizerAppId, opts.funcIds, {
      ...(opts.apiPermission === undefined ? {} : { apiPermission: opts.apiPermission }),
      ...(opts.accountType ? { accountType: opts.accountType } : {}),
    });
    const answer = await this.#pushAuthorization(
      opts.infoType ?? 'authorized',
      authCode,
      opts.deliver ?? true
    );
    return { authCode, ...answer };
  }

  pushEvent(
    infoType: string,
    fields: PushFields = {},
    opts: { authorizerAppId?: string; deliver?: boolean } = {}
  ): Promise<PushAnswer> {
    return this.#pushes.send(infoType, fields, opts);
  }

  // --- messages and the release check ------------------------------------------------------------------

  sendMessage(
    authorizerAppId: string,
    fields: MessageFields,
    options: { user?: string; retry?: boolean } = {}
  ): Promise<MessageRecord> {
    return this.#messages.send(authorizerAppId, fields, options);
  }

  sendMessages(count: number, options: { random?: () => number } = {}): Promise<MessageRecord[]> {
    return this.#messages.sendMix(count, options.random);
  }

  loseNextMessageAnswers(n: number): void {
    this.#messages.loseNextAnswers(n);
  }

  async flushMessages(): Promise<void> {
    await this.#messages.flush();
  }

  runReleaseCheck(): Promise<ReleaseCheckReport> {
    return runReleaseCheck({
      state: this.#state,
      calls: this.#server.calls,
      pushTicket: () => this.pushTicket(),
      authorize: (account) =>
        this.#state.authorize(account.appId, account.funcIds, this.#state.mintPreAuthCode(true), {
          accountType: account.accountType,
          userName: account.userName,
        }),
      pushAuthorized: (authCode) => this.#pushAuthorization('authorized', authCode),
      sendMessage: (authorizerAppId, fields, options) =>
        this.#messages.send(authorizerAppId, fields, options),
    });
  }

  #pushAuthorization(infoType: string, authCode: string, deliver = true): Promise<PushAnswer> {
    const record = this.#state.authCodes.get(authCode) as AuthCodeRecord;
    return this.#pushes.send(
      infoType,
      {
        AuthorizerAppid: record.authorizerAppId,
        AuthorizationCode: authCode,
        AuthorizationCodeExpiredTime: Math.floor(record.expiresAt / 1000),
        PreAuthCode: record.preAuthCode,
      },
      { authorizerAppId: record.authorizerAppId, deliver }
    );
  }
}
