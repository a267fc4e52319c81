import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiPath } from '../../shared/wechat/wire';
import { type ApiContext, answerApi, malformedAnswer } from './api';
import { answerCallerApi, malformedCallerAnswer } from './caller-api';
import { type CallerApiName, CallerApiPath, type SimulatedApi } from './caller-paths';
import { ApiFailure, errmsg, rid } from './errcodes';
import { FaultQueue, HeldResponses, PROCESSED_FAULTS, playFault } from './faults';
import {
  type Answer,
  describeError,
  JSON_TYPE,
  parseJsonObject,
  readBody,
  send,
  sendAnswer,
} from './http';
import { type PagesContext, routePage } from './pages';
import { normalizeIp, type WechatState } from './state';
import type { CallName, CallRecord, Fault, ReleaseCheckReport } from './types';

/**
 * The simulator's `node:http` server on 127.0.0.1: routes the component APIs and the callers' APIs
 * (recording every call with its source address and token, applying injected faults before or after
 * WeChat processes the call), the page routes, the release check's route, and a 404 JSON answer for
 * anything else. The whitelist guards the APIs only: the pages are the merchant's browser's, the
 * `/simulator/*` routes the test's.
 */

/**
 * Simulator-only control route: `POST /simulator/release-check` runs the release check
 * ({@link WechatSimulator.runReleaseCheck}) and answers its report as JSON, HTTP 200 whether it passed or
 * not: `{passed, steps: [{name, passed, detail}]}`.
 */
const RELEASE_CHECK_PATH = '/simulator/release-check';

const API_BY_PATH = new Map<string, SimulatedApi>([
  ...Object.entries(ApiPath).map(([api, path]): [string, SimulatedApi] => [
    path,
    api as SimulatedApi,
  ]),
  ...Object.entries(CallerApiPath).map(([api, path]): [string, SimulatedApi] => [
    path,
    api as SimulatedApi,
  ]),
]);
const isCallerApi = (api: SimulatedApi): api is CallerApiName => Object.hasOwn(CallerApiPath, api);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the server needs from the simulator around it. */
export interface ServerOptions {
  state: WechatState;
  port: number;
  latencyMs: number;
  egressIp: string;
  onPushTicketStarted: ApiContext['onPushTicketStarted'];
  pushAuthorization: PagesContext['pushAuthorization'];
  revoke: PagesContext['revoke'];
  runReleaseCheck(): Promise<ReleaseCheckReport>;
}

/** The HTTP side of one simulator: routes, the call log and the fault queue. */
export class SimulatorServer {
  readonly calls: CallRecord[] = [];
  readonly faults = new FaultQueue();
  readonly #held = new HeldResponses();
  readonly #options: ServerOptions;
  readonly #server = createServer((req, res) => void this.#onRequest(req, res));
  readonly #pages: PagesContext;

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#pages = {
      state: options.state,
      record: (api, req, url, body) => this.#record(api, req, url, body),
      errmsg: (errcode, detail) => this.#errmsg(errcode, detail),
      pushAuthorization: options.pushAuthorization,
      revoke: options.revoke,
    };
  }

  /** Listens; resolves with the base URL. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#held.dropAll();
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** `requestIp`: the address a whitelist refusal reports instead of the simulator's egress IP. */
  #errmsg(errcode: number, detail?: string, requestIp?: string): string {
    const context = {
      now: this.#options.state.clock(),
      egressIp: requestIp ?? this.#options.egressIp,
    };
    return errmsg(errcode, detail ? { ...context, detail } : context);
  }

  #record(api: CallName, req: IncomingMessage, url: URL, body: unknown, errcode?: number) {
    const query = Object.fromEntries(url.searchParams);
    const call: CallRecord = {
      api,
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      body,
      at: this.#options.state.clock(),
      clientIp: normalizeIp(req.socket.remoteAddress ?? ''),
    };
    const token = query.access_token ?? query.component_access_token;
    if (token !== undefined) call.token = token;
    if (errcode !== undefined) call.errcode = errcode;
    this.calls.push(call);
    return call;
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const api = API_BY_PATH.get(url.pathname);
      if (api) return await this.#onApi(api, req, res, url);
      if (url.pathname === RELEASE_CHECK_PATH && req.method === 'POST') {
        this.#record('release_check', req, url, await readBody(req));
        const report = await this.#options.runReleaseCheck();
        return send(res, 200, JSON_TYPE, JSON.stringify(report));
      }
      if (await routePage(req, res, url, this.#pages)) return;
      const raw = await readBody(req);
      this.#record('unknown', req, url, raw, 48001);
      const message = this.#errmsg(48001, `no ${req.method} ${url.pathname}`);
      send(res, 404, JSON_TYPE, JSON.stringify({ errcode: 48001, errmsg: message }));
    } catch (error) {
      const message = `system error (simulator: ${describeError(error)}) rid: ${rid(this.#options.state.clock())}`;
      send(res, 500, JSON_TYPE, JSON.stringify({ errcode: -1, errmsg: message }));
    }
  }

  async #onApi(
    api: SimulatedApi,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL
  ): Promise<void> {
    const raw = await readBody(req);
    const json = parseJsonObject(raw);
    const call = this.#record(api, req, url, json ?? raw);
    if (this.#options.latencyMs) await sleep(this.#options.latencyMs);
    const fault = this.faults.take(api);
    if (fault !== undefined && !PROCESSED_FAULTS.has(fault)) {
      return this.#unprocessed(api, fault, call, res);
    }
    const answer = this.#process(api, call, req.method ?? 'GET', json, raw);
    if (fault === undefined) return sendAnswer(res, 200, answer);
    call.fault = fault as Exclude<Fault, object>;
    playFault(call.fault, res, this.#held, {
      malformed: () => answer,
      busy: () => this.#busy(call),
    });
  }

  /** -1 replaces the answer, whatever processing answered (recorded as the errcode sent). */
  #busy(call: CallRecord): object {
    call.errcode = -1;
    return { errcode: -1, errmsg: this.#errmsg(-1) };
  }

  /** WeChat acts on the call; an errcode answer is recorded on the call. */
  #process(
    api: SimulatedApi,
    call: CallRecord,
    method: string,
    json: Record<string, unknown> | undefined,
    raw: string | undefined
  ): Answer {
    const { state, onPushTicketStarted } = this.#options;
    const request = { method, query: call.query, json, raw, clientIp: call.clientIp };
    try {
      return isCallerApi(api)
        ? answerCallerApi(api, request, state)
        : answerApi(api, request, { state, onPushTicketStarted });
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      call.errcode = error.errcode;
      const message = this.#errmsg(error.errcode, error.detail, error.requestIp);
      return { errcode: error.errcode, errmsg: message };
    }
  }

  #unprocessed(api: SimulatedApi, fault: Fault, call: CallRecord, res: ServerResponse): void {
    if (typeof fault === 'object') {
      call.fault = 'errcode';
      call.errcode = fault.errcode;
      const message = fault.errmsg ?? this.#errmsg(fault.errcode);
      send(res, 200, JSON_TYPE, JSON.stringify({ errcode: fault.errcode, errmsg: message }));
      return;
    }
    call.fault = fault;
    playFault(fault, res, this.#held, {
      malformed: () =>
        isCallerApi(api) ? malformedCallerAnswer(api) : malformedAnswer(api, this.#options.state),
      busy: () => this.#busy(call),
    });
  }
}
