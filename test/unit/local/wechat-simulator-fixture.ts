import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import {
  type SimulatorOptions,
  startWechatSimulator,
  type WechatSimulator,
} from '../../../local/simulator';
import { MsgCrypto } from '../../../shared/crypto/msg-crypto';
import { HttpComponentApi } from '../../../shared/wechat/api-client';
import {
  type ApiName,
  ApiPath,
  type ComponentTokenResponse,
  type WechatErrorBody,
} from '../../../shared/wechat/wire';
import { COMPONENT_APPID, T0 } from '../../support/test-ids';

/**
 * Shared setup of the simulator's tests: a stand-in for our service's event URL that records what it
 * receives, the service's own `MsgCrypto` to verify and decrypt it, and a simulator per test on a clock
 * the test moves by hand.
 */

export const SECRET = 'component-secret-0123456789abcdef';
export const TOKEN = 'simtoken';
export const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
export const EGRESS = '198.51.100.23';
export const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;

const serviceCrypto = new MsgCrypto({ token: TOKEN, encodingAesKey: KEY, appId: COMPONENT_APPID });

export interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Verifies both signatures of a received push and decrypts it with the service's MsgCrypto. */
export function decrypt(push: Received): string {
  const q = new URL(push.url, 'http://x').searchParams;
  const encrypt = /<Encrypt><!\[CDATA\[([^\]]+)\]\]><\/Encrypt>/.exec(push.body)?.[1] ?? '';
  const timestamp = q.get('timestamp') ?? '';
  const nonce = q.get('nonce') ?? '';
  expect(q.get('encrypt_type')).toBe('aes');
  expect(
    serviceCrypto.verifySignature({ signature: q.get('signature') ?? '', timestamp, nonce })
  ).toBe(true);
  return serviceCrypto.decrypt({
    msgSignature: q.get('msg_signature') ?? '',
    timestamp,
    nonce,
    encrypt,
  });
}

/** The text of the first `<name>` element, CDATA or bare. */
export const tag = (xml: string, name: string) =>
  new RegExp(`<${name}>(?:<!\\[CDATA\\[)?(.*?)(?:\\]\\]>)?</${name}>`).exec(xml)?.[1];

export type Answer<T> = { status: number; json: Partial<T> & WechatErrorBody };

export const withToken = (token: string) => ({ component_access_token: token });

export interface SimulatorFixture {
  /** The simulator's clock (epoch ms); tests move it. */
  now: number;
  /** This test's simulator (default options). */
  readonly sim: WechatSimulator;
  /** What the event URL received, oldest first. */
  readonly received: Received[];
  /** What the event URL answers every push (`success` unless a test says otherwise). */
  answer: string;
  readonly eventUrl: string;
  /** Another simulator on the same clock and event URL, closed after the test. */
  start(options?: Partial<SimulatorOptions>): Promise<WechatSimulator>;
  /** POSTs `body` to `api` with plain fetch. */
  call<T = Record<string, unknown>>(
    api: ApiName,
    body: unknown,
    query?: Record<string, string>,
    target?: WechatSimulator
  ): Promise<Answer<T>>;
  /** Pushes a ticket and mints a component token from it. */
  componentToken(target?: WechatSimulator): Promise<string>;
  /** The service's real client against `target`, one attempt per call. */
  client(target?: WechatSimulator, timeoutMs?: number): HttpComponentApi;
}

/** Registers the hooks and returns the fixture the tests of one file share. */
export function useSimulatorFixture(defaults: Partial<SimulatorOptions> = {}): SimulatorFixture {
  const started: WechatSimulator[] = [];
  let receiver: Server;
  let current: WechatSimulator | undefined;
  let eventUrl = '';

  const fixture: SimulatorFixture = {
    now: T0,
    answer: 'success',
    received: [],
    get sim() {
      return current as WechatSimulator;
    },
    get eventUrl() {
      return eventUrl;
    },
    async start(options = {}) {
      const simulator = await startWechatSimulator({
        componentAppId: COMPONENT_APPID,
        componentAppSecret: SECRET,
        token: TOKEN,
        encodingAesKey: KEY,
        eventUrl,
        egressIp: EGRESS,
        clock: () => fixture.now,
        ...defaults,
        ...options,
      });
      started.push(simulator);
      return simulator;
    },
    async call<T>(
      api: ApiName,
      body: unknown,
      query: Record<string, string> = {},
      target = fixture.sim
    ): Promise<Answer<T>> {
      const qs = new URLSearchParams(query).toString();
      const response = await fetch(`${target.url}${ApiPath[api]}${qs ? `?${qs}` : ''}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      // Parsed JSON is `unknown`: read it as the answer the test asks for (every field optional) and
      // let the test's assertions check it.
      const json = (await response.json()) as Answer<T>['json'];
      return { status: response.status, json };
    },
    async componentToken(target = fixture.sim) {
      const { ticket } = await target.pushTicket();
      const answer = await fixture.call<ComponentTokenResponse>(
        'api_component_token',
        {
          component_appid: COMPONENT_APPID,
          component_appsecret: SECRET,
          component_verify_ticket: ticket,
        },
        {},
        target
      );
      return answer.json.component_access_token as string;
    },
    client(target = fixture.sim, timeoutMs = 2000) {
      return new HttpComponentApi({
        componentAppId: COMPONENT_APPID,
        baseUrl: target.url,
        timeoutMs,
        attempts: 1,
        retryDelayMs: 0,
      });
    },
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        fixture.received.push({ url: req.url ?? '', headers: req.headers, body });
        res.end(fixture.answer);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    eventUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/wechat/events`;
  });
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  beforeEach(async () => {
    fixture.now = T0;
    fixture.answer = 'success';
    fixture.received.length = 0;
    current = await fixture.start();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });
  return fixture;
}
