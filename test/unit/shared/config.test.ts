import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDeps } from '../../../functions/lib/deps';
import { DEFAULT_WECHAT_API_BASE_URL, loadConfig, REQUIRED_ENV } from '../../../shared/config';
import { ConfigError } from '../../../shared/errors';
import { SECRET_CACHE_MS } from '../../../shared/policy';
import { parseAppSecret, parseMessageSecret } from '../../../shared/secrets';
import { recordingLog, recordingMetrics } from '../../support/recorders';
import { COMPONENT_APPID } from '../../support/test-ids';

const env = {
  TOKEN_TABLE_NAME: 'tokens',
  COMPONENT_APPID,
  COMPONENT_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:component',
};

describe('loadConfig', () => {
  it('reads the environment with the production WeChat origin by default', () => {
    expect(loadConfig(env)).toEqual({
      tokenTableName: 'tokens',
      componentAppId: COMPONENT_APPID,
      componentSecretId: env.COMPONENT_SECRET_ID,
      wechatApiBaseUrl: DEFAULT_WECHAT_API_BASE_URL,
    });
  });

  it('names every missing variable at once', () => {
    try {
      loadConfig({});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual(
        REQUIRED_ENV.map((name) => `${name} is required`)
      );
    }
  });

  it('rejects a malformed appid and origins with paths', () => {
    expect(() =>
      loadConfig({
        ...env,
        COMPONENT_APPID: 'gh_123',
        WECHAT_API_BASE_URL: 'https://x.test/cgi-bin',
        WECHAT_AUTHORIZE_PAGE_BASE_URL: 'ftp://x',
      })
    ).toThrow(
      'COMPONENT_APPID must look like wx followed by letters and digits; WECHAT_API_BASE_URL must be an http(s) origin without a path; WECHAT_AUTHORIZE_PAGE_BASE_URL must be an http(s) origin without a path'
    );
  });

  it('takes call-wechat’s path prefixes as a comma-separated list of plain paths', () => {
    expect(loadConfig({ ...env, CALL_WECHAT_PATH_PREFIXES: ' /cgi-bin/ , /wxa/,' })).toMatchObject({
      callWechatPathPrefixes: ['/cgi-bin/', '/wxa/'],
    });
    expect(loadConfig({ ...env, CALL_WECHAT_PATH_PREFIXES: '' })).not.toHaveProperty(
      'callWechatPathPrefixes'
    );
    for (const bad of [
      'https://evil.example/',
      '/cgi-bin/,//evil.example/',
      '/cgi-bin/../',
      'cgi-bin/',
    ]) {
      expect(() => loadConfig({ ...env, CALL_WECHAT_PATH_PREFIXES: bad })).toThrow(
        /CALL_WECHAT_PATH_PREFIXES must be comma-separated paths/
      );
    }
  });

  it('takes the simulator origin and a dynalite endpoint for the sandbox', () => {
    expect(
      loadConfig({
        ...env,
        WECHAT_API_BASE_URL: 'http://127.0.0.1:4000/',
        DYNAMODB_ENDPOINT: 'http://127.0.0.1:4001',
      })
    ).toMatchObject({
      wechatApiBaseUrl: 'http://127.0.0.1:4000',
      dynamoDbEndpoint: 'http://127.0.0.1:4001',
    });
  });
});

describe('the two secrets', () => {
  const sm = mockClient(SecretsManagerClient);
  beforeEach(() => sm.reset());
  const appSecret = { componentAppSecret: 'app-secret-value' };
  const messageSecret = {
    token: 'token-value',
    encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  };
  const depsReading = (clock: () => number, extra: Record<string, string> = {}) =>
    createDeps(loadConfig({ ...env, COMPONENT_SECRET_ID: 'component', ...extra }), {
      clock,
      log: recordingLog(),
      metrics: recordingMetrics(),
    });
  const answerBySecretId = () => {
    sm.on(GetSecretValueCommand, { SecretId: 'component' }).resolves({
      SecretString: JSON.stringify(appSecret),
    });
    sm.on(GetSecretValueCommand, { SecretId: 'message' }).resolves({
      SecretString: JSON.stringify(messageSecret),
    });
  };

  it('reads the AppSecret lazily, once per cache period, shared by concurrent callers', async () => {
    answerBySecretId();
    let now = 0;
    const deps = depsReading(() => now);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 0);
    const [a, b] = await Promise.all([deps.secrets(), deps.secrets()]);
    expect(a).toEqual(appSecret);
    expect(b).toBe(a);
    now = SECRET_CACHE_MS - 1;
    await deps.secrets();
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    now = SECRET_CACHE_MS;
    await deps.secrets();
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'component' });
  });

  it('builds the message crypto from the message secret only', async () => {
    answerBySecretId();
    const crypto = await depsReading(() => 0, { MESSAGE_SECRET_ID: 'message' }).msgCrypto();
    expect(crypto.verifySignature({ signature: 'x'.repeat(40), timestamp: '1', nonce: '2' })).toBe(
      false
    );
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'message' });
  });

  it('refuses to decrypt pushes in a function that was given no message secret', async () => {
    await expect(depsReading(() => 0).msgCrypto()).rejects.toThrow(
      'MESSAGE_SECRET_ID is required to verify and decrypt pushes'
    );
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 0);
  });

  it('does not cache a failure, and never echoes the secret in its errors', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(new Error('AccessDeniedException'))
      .resolves({ SecretString: JSON.stringify({ token: 'token-value', encodingAesKey: '' }) });
    const deps = depsReading(() => 0, { MESSAGE_SECRET_ID: 'message' });
    await expect(deps.msgCrypto()).rejects.toThrow(
      'a secret could not be read from Secrets Manager'
    );
    const error = await deps.msgCrypto().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toBe(
      'ConfigError: invalid configuration: message secret has no encodingAesKey'
    );
    expect(String(error)).not.toContain('token-value');
  });

  it.each([
    ['not JSON', () => parseAppSecret('not json'), 'component secret is not JSON'],
    [
      'missing its AppSecret',
      () => parseAppSecret('{}'),
      'component secret has no componentAppSecret',
    ],
    [
      'missing the message fields',
      () => parseMessageSecret('{}'),
      'message secret has no token; message secret has no encodingAesKey',
    ],
  ])('rejects a secret %s', (_what, parse, message) => {
    expect(parse).toThrow(message);
  });

  it('keeps the previous EncodingAESKey during a key change', () => {
    const parsed = parseMessageSecret(
      JSON.stringify({ ...messageSecret, previousEncodingAesKey: 'x'.repeat(43) })
    );
    expect(parsed.previousEncodingAesKey).toBe('x'.repeat(43));
  });
});
