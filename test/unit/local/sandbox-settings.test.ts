import { describe, expect, it } from 'vitest';
import { DEFAULT_COMPONENT_APPID, readSandboxSettings } from '../../../local/sandbox-settings';
import { ConfigError } from '../../../shared/errors';
import { COMPONENT_APPID } from '../../support/test-ids';

const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const GIVEN = {
  COMPONENT_APPID,
  COMPONENT_APPSECRET: 'given-app-secret',
  COMPONENT_TOKEN: 'givenToken1',
  COMPONENT_ENCODING_AES_KEY: KEY,
};

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    readSandboxSettings(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('readSandboxSettings', () => {
  it('needs nothing: port 3000, a fixed appid, a component secret generated per run', () => {
    const a = readSandboxSettings({});
    const b = readSandboxSettings({});
    expect(a).toMatchObject({
      port: 3000,
      componentAppId: DEFAULT_COMPONENT_APPID,
      tableName: 'sandbox-tokens',
      refreshIntervalMs: 60_000,
      ticketIntervalMs: 600_000,
      logLevel: 'info',
      generated: ['COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY'],
    });
    expect(a.externalWechat).toBeUndefined();
    expect(a.outsideStore).toBeUndefined();
    expect(a.secret.encodingAesKey).toMatch(/^[A-Za-z0-9]{43}$/);
    expect(a.secret.token).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(a.secret.componentAppSecret).toMatch(/^[0-9a-f]{32}$/);
    expect(b.secret.encodingAesKey).not.toBe(a.secret.encodingAesKey);
    expect(b.secret.componentAppSecret).not.toBe(a.secret.componentAppSecret);
  });

  it('uses what is given', () => {
    const settings = readSandboxSettings({
      ...GIVEN,
      PORT: '0',
      REFRESH_INTERVAL_MS: '0',
      SIMULATOR_TICKET_INTERVAL_MS: '5000',
      LOG_LEVEL: 'DEBUG',
    });
    expect(settings).toMatchObject({
      port: 0,
      componentAppId: GIVEN.COMPONENT_APPID,
      secret: {
        componentAppSecret: GIVEN.COMPONENT_APPSECRET,
        token: GIVEN.COMPONENT_TOKEN,
        encodingAesKey: KEY,
      },
      generated: [],
      refreshIntervalMs: 0,
      ticketIntervalMs: 5000,
      logLevel: 'debug',
    });
  });

  it('names every problem at once without echoing a secret', () => {
    const problems = problemsOf({
      PORT: '70000',
      REFRESH_INTERVAL_MS: '-1',
      COMPONENT_APPID: 'gh_123',
      COMPONENT_TOKEN: 'no spaces allowed',
      COMPONENT_ENCODING_AES_KEY: 'tooShortKey',
      LOG_LEVEL: 'chatty',
    });
    expect(problems).toEqual([
      'PORT must be an integer from 0 to 65535',
      'COMPONENT_TOKEN must be 3 to 32 letters and digits',
      'COMPONENT_ENCODING_AES_KEY must be 43 letters and digits',
      'REFRESH_INTERVAL_MS must be an integer from 0 to 2147483647',
      'LOG_LEVEL must be one of debug,info,warn,error',
      'COMPONENT_APPID must look like wx followed by letters and digits',
    ]);
    expect(problems.join()).not.toMatch(/tooShortKey|no spaces allowed/);
  });

  it('uses an external WeChat for the API and its pages, with its appid and secret', () => {
    expect(
      readSandboxSettings({ ...GIVEN, WECHAT_API_BASE_URL: 'http://127.0.0.1:4000/' })
    ).toMatchObject({
      externalWechat: {
        apiBaseUrl: 'http://127.0.0.1:4000',
        pageBaseUrl: 'http://127.0.0.1:4000',
      },
    });
    expect(
      readSandboxSettings({
        ...GIVEN,
        WECHAT_API_BASE_URL: 'http://127.0.0.1:4000',
        WECHAT_AUTHORIZE_PAGE_BASE_URL: 'http://127.0.0.1:4001',
      }).externalWechat
    ).toEqual({ apiBaseUrl: 'http://127.0.0.1:4000', pageBaseUrl: 'http://127.0.0.1:4001' });
    // The real API origin does not serve the authorization pages: keep WeChat's own page hosts.
    expect(
      readSandboxSettings({ ...GIVEN, WECHAT_API_BASE_URL: 'https://api.weixin.qq.com' })
        .externalWechat
    ).toEqual({ apiBaseUrl: 'https://api.weixin.qq.com' });
    expect(problemsOf({ WECHAT_API_BASE_URL: 'http://127.0.0.1:4000' })).toEqual([
      "with WECHAT_API_BASE_URL set, also set COMPONENT_APPID, COMPONENT_APPSECRET, COMPONENT_TOKEN, COMPONENT_ENCODING_AES_KEY to that WeChat's values",
    ]);
    expect(problemsOf({ ...GIVEN, WECHAT_API_BASE_URL: 'http://127.0.0.1:4000/path' })).toEqual([
      'WECHAT_API_BASE_URL must be an http(s) origin without a path',
    ]);
  });

  it('uses an outside DynamoDB with DYNAMODB_ENDPOINT: dummy credentials and region unless the env has some', () => {
    expect(
      readSandboxSettings({
        DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000/',
        TOKEN_TABLE_NAME: 'shared',
      })
    ).toMatchObject({
      tableName: 'shared',
      outsideStore: {
        endpoint: 'http://127.0.0.1:8000',
        region: 'us-east-1',
        ownCredentials: false,
      },
    });
    expect(
      readSandboxSettings({
        DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
        AWS_REGION: 'ap-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'example',
      }).outsideStore
    ).toEqual({ endpoint: 'http://127.0.0.1:8000', region: 'ap-east-1', ownCredentials: true });
    expect(problemsOf({ DYNAMODB_ENDPOINT: '127.0.0.1:8000', TOKEN_TABLE_NAME: 'a b' })).toEqual([
      'TOKEN_TABLE_NAME must be 3 to 255 letters, digits, _ . or -',
      'DYNAMODB_ENDPOINT must be an http(s) origin, e.g. http://127.0.0.1:8000',
    ]);
  });
});
