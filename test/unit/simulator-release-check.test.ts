import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CallerApiPath,
  QUERY_AUTH_CODE_PREFIX,
  RELEASE_CHECK_ACCOUNTS,
  type ReleaseCheckReport,
  startWechatSimulator,
  TEST_TEXT,
  type WechatSimulator,
} from '../../local/simulator';
import { MsgCrypto } from '../../shared/crypto/msg-crypto';
import { ApiPath } from '../../shared/wechat/wire';
import { COMPONENT_APPID, T0 } from '../support/test-ids';

/**
 * The release check (全网发布接入检测, protocol §13) run by the simulator against a small service written
 * here: one that does every step right passes, and each mistake fails its own step.
 */

const SECRET = 'component-secret-0123456789abcdef';
const TOKEN = 'releasetoken';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const crypto = new MsgCrypto({ token: TOKEN, encodingAesKey: KEY, appId: COMPONENT_APPID });

const tag = (xml: string, name: string) =>
  new RegExp(`<${name}>(?:<!\\[CDATA\\[)?(.*?)(?:\\]\\]>)?</${name}>`, 's').exec(xml)?.[1] ?? '';

/** The mistakes the fake service can make, one switch each. */
interface Mistakes {
  /** Replies the text step without `_callback`. */
  textReply?: boolean;
  /** Answers QUERY_AUTH_CODE with a passive reply rather than an empty answer. */
  replyToQueryAuthCode?: boolean;
  /** Sends `<code>_from_api` with a token renewed by api_authorizer_token, not the code's. */
  tokenNotFromCode?: boolean;
  /** What it does with WeChat's own `authorized` push: exchange the code, read the account, nothing. */
  onAuthorized?: 'exchange' | 'read_info' | 'ignore';
}

/** A third-party platform service that does what the release check asks, unless told otherwise. */
class FakeService {
  mistakes: Mistakes = {};
  wechat = '';
  readonly #server: Server;
  #ticket = '';
  readonly #refreshTokens = new Map<string, string>();

  constructor() {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const plaintext = crypto.decrypt({
          msgSignature: url.searchParams.get('msg_signature') ?? '',
          timestamp: url.searchParams.get('timestamp') ?? '',
          nonce: url.searchParams.get('nonce') ?? '',
          encrypt: tag(body, 'Encrypt'),
        });
        const answer = url.pathname.startsWith('/wechat/events')
          ? this.#onEvent(plaintext)
          : this.#onMessage(plaintext);
        void answer.then((text) => res.end(text));
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #onEvent(xml: string): Promise<string> {
    const infoType = tag(xml, 'InfoType');
    if (infoType === 'component_verify_ticket') this.#ticket = tag(xml, 'ComponentVerifyTicket');
    if (infoType !== 'authorized') return 'success';
    const how = this.mistakes.onAuthorized ?? 'exchange';
    if (how === 'exchange') await this.#exchange(tag(xml, 'AuthorizationCode'));
    if (how === 'read_info') {
      const query = `component_access_token=${await this.#componentToken()}`;
      await this.#post(ApiPath.api_get_authorizer_info, query, {
        component_appid: COMPONENT_APPID,
        authorizer_appid: tag(xml, 'AuthorizerAppid'),
      });
    }
    return 'success';
  }

  async #onMessage(xml: string): Promise<string> {
    const content = tag(xml, 'Content');
    if (tag(xml, 'MsgType') === 'event')
      return this.#reply(xml, `${tag(xml, 'Event')}from_callback`);
    if (content === TEST_TEXT) {
      return this.#reply(xml, this.mistakes.textReply ? TEST_TEXT : `${TEST_TEXT}_callback`);
    }
    if (content.startsWith(QUERY_AUTH_CODE_PREFIX)) {
      const code = content.slice(QUERY_AUTH_CODE_PREFIX.length);
      setTimeout(() => void this.#answerByApi(code, tag(xml, 'FromUserName')), 20);
      return this.mistakes.replyToQueryAuthCode ? this.#reply(xml, 'later') : '';
    }
    return 'success';
  }

  #reply(message: string, content: string): string {
    const inner = `<xml><ToUserName><![CDATA[${tag(message, 'FromUserName')}]]></ToUserName><FromUserName><![CDATA[${tag(message, 'ToUserName')}]]></FromUserName><CreateTime>${tag(message, 'CreateTime')}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content></xml>`;
    const sealed = crypto.encrypt(inner);
    return `<xml><Encrypt><![CDATA[${sealed.encrypt}]]></Encrypt><MsgSignature><![CDATA[${sealed.msgSignature}]]></MsgSignature><TimeStamp>${sealed.timestamp}</TimeStamp><Nonce><![CDATA[${sealed.nonce}]]></Nonce></xml>`;
  }

  async #post(path: string, query: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.wechat}${path}?${query}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  async #componentToken(): Promise<string> {
    const answer = await this.#post(ApiPath.api_component_token, '', {
      component_appid: COMPONENT_APPID,
      component_appsecret: SECRET,
      component_verify_ticket: this.#ticket,
    });
    return answer.component_access_token as string;
  }

  /** api_query_auth; returns the authorizer's appid and token. */
  async #exchange(code: string): Promise<{ appId: string; token: string }> {
    const query = `component_access_token=${await this.#componentToken()}`;
    const answer = await this.#post(ApiPath.api_query_auth, query, {
      component_appid: COMPONENT_APPID,
      authorization_code: code,
    });
    const info = answer.authorization_info as Record<string, string>;
    this.#refreshTokens.set(
      info.authorizer_appid as string,
      info.authorizer_refresh_token as string
    );
    return {
      appId: info.authorizer_appid as string,
      token: info.authorizer_access_token as string,
    };
  }

  async #renew(appId: string): Promise<string> {
    const query = `component_access_token=${await this.#componentToken()}`;
    const answer = await this.#post(ApiPath.api_authorizer_token, query, {
      component_appid: COMPONENT_APPID,
      authorizer_appid: appId,
      authorizer_refresh_token: this.#refreshTokens.get(appId),
    });
    return answer.authorizer_access_token as string;
  }

  async #answerByApi(code: string, openid: string): Promise<void> {
    const exchanged = await this.#exchange(code);
    const token = this.mistakes.tokenNotFromCode
      ? await this.#renew(exchanged.appId)
      : exchanged.token;
    await this.#post(CallerApiPath.sendCustomMessage, `access_token=${token}`, {
      touser: openid,
      msgtype: 'text',
      text: { content: `${code}_from_api` },
    });
  }
}

const service = new FakeService();
let base = '';
let sim: WechatSimulator;

beforeAll(async () => {
  base = await service.listen();
});
afterAll(() => service.close());
beforeEach(async () => {
  service.mistakes = {};
  sim = await startWechatSimulator({
    componentAppId: COMPONENT_APPID,
    componentAppSecret: SECRET,
    token: TOKEN,
    encodingAesKey: KEY,
    eventUrl: `${base}/wechat/events`,
    messageUrl: `${base}/wechat/messages/$APPID$`,
    clock: () => T0,
  });
  service.wechat = sim.url;
});
afterEach(() => sim.close());

const verdicts = (report: ReleaseCheckReport) =>
  Object.fromEntries(report.steps.map((step) => [step.name, step.passed]));
const failed = (report: ReleaseCheckReport) =>
  report.steps.filter((step) => !step.passed).map((step) => step.name);

describe('the release check', () => {
  it('passes a service that does every step right, each test account authorized', async () => {
    const report = await sim.runReleaseCheck();
    expect(failed(report)).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.steps).toHaveLength(1 + 5 * RELEASE_CHECK_ACCOUNTS.length);
    expect(report.steps.map((step) => step.name)).toEqual(
      expect.arrayContaining([
        'wx570bc396a51b8ff8 (official account): LOCATION event → reply LOCATIONfrom_callback',
        'wxd101a85aa106f53e (mini program): user_enter_tempsession event → reply user_enter_tempsessionfrom_callback',
      ])
    );
    const oa = sim.state.authorizers.get('wx570bc396a51b8ff8');
    expect(oa).toMatchObject({ active: true, userName: 'gh_3c884a361561', apiPermission: true });
    expect(oa?.funcIds).toContain(1);
    expect(sim.state.authorizers.get('wxd101a85aa106f53e')).toMatchObject({
      userName: 'gh_8dad206e9538',
      accountType: 'mini_program',
    });
    expect(sim.pushes.map((push) => [push.infoType, push.authorizerAppId])).toEqual([
      ['component_verify_ticket', undefined],
      ['authorized', 'wx570bc396a51b8ff8'],
      ['authorized', 'wxd101a85aa106f53e'],
    ]);
    expect(sim.state.customMessages.map((m) => m.authorizerAppId)).toEqual([
      'wx570bc396a51b8ff8',
      'wxd101a85aa106f53e',
    ]);
  });

  it('runs at POST /simulator/release-check and answers the report as JSON', async () => {
    const response = await fetch(`${sim.url}/simulator/release-check`, { method: 'POST' });
    expect(response.status).toBe(200);
    const report = (await response.json()) as ReleaseCheckReport;
    expect(report.passed).toBe(true);
    expect(report.steps.every((step) => typeof step.detail === 'string')).toBe(true);
    expect(sim.callCount('release_check')).toBe(1);
  });

  it('fails the text step alone when its reply lacks _callback', async () => {
    service.mistakes.textReply = true;
    const report = await sim.runReleaseCheck();
    expect(report.passed).toBe(false);
    expect(failed(report)).toEqual([
      `wx570bc396a51b8ff8 (official account): text ${TEST_TEXT} → reply ${TEST_TEXT}_callback`,
      `wxd101a85aa106f53e (mini program): text ${TEST_TEXT} → reply ${TEST_TEXT}_callback`,
    ]);
    const step = report.steps.find((s) => s.name.includes(`text ${TEST_TEXT}`));
    expect(step?.detail).toBe(`replied text "${TEST_TEXT}"`);
  });

  it('fails the QUERY_AUTH_CODE steps for a passive reply and a token not from the code', async () => {
    service.mistakes = { replyToQueryAuthCode: true, tokenNotFromCode: true };
    const report = await sim.runReleaseCheck();
    const verdict = verdicts(report);
    const label = 'wx570bc396a51b8ff8 (official account)';
    expect(
      verdict[`${label}: ${QUERY_AUTH_CODE_PREFIX}<query_auth_code> text → empty answer within 5 s`]
    ).toBe(false);
    const apiStep = report.steps.find((s) => s.name.startsWith(`${label}: customer-service`));
    expect(apiStep).toMatchObject({
      passed: false,
      detail: 'sent with a token that did not come from exchanging this query_auth_code',
    });
    expect(verdict[`${label}: text ${TEST_TEXT} → reply ${TEST_TEXT}_callback`]).toBe(true);
    expect(failed(report)).toHaveLength(4);
  });

  it('takes reading the account with api_get_authorizer_info for a held account, and fails a code left alone', async () => {
    service.mistakes.onAuthorized = 'read_info';
    const read = await sim.runReleaseCheck();
    expect(failed(read)).toEqual([]);
    expect(read.steps[1]?.detail).toBe(
      'the service read the authorization with api_get_authorizer_info'
    );
    service.mistakes.onAuthorized = 'ignore';
    const ignored = await sim.runReleaseCheck();
    expect(failed(ignored)).toEqual(
      RELEASE_CHECK_ACCOUNTS.map(
        (a) =>
          `${a.appId} (${a.accountType.replace('_', ' ')}): authorized push answered success and its code taken up`
      )
    );
    expect(ignored.steps[1]?.detail).toBe(
      'answered success, but the code was not exchanged within 5 s'
    );
  });
});
