import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDeps } from '../../../functions/lib/deps';
import { DEFAULT_WECHAT_API_BASE_URL, loadConfig, REQUIRED_ENV } from '../../../shared/config';
import { ConfigError } from '../../../shared/errors';
import { parseComponentSecret, SECRET_CACHE_MS } from '../../../shared/secrets';
import { recordingLog, recordingMetrics } from '../../support/recorders';

const env = {
  TOKEN_TABLE_NAME: 'tokens',
  COMPONENT_APPID: 'wxcomponent000001',
  COMPONENT_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:component',
};

describe('loadConfig', () => {
  it('reads the environment with the production WeChat origin by default', () => {
    expect(loadConfig(env)).toEqual({
      tokenTableName: 'tokens',
      componentAppId: 'wxcomponent000001',
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

describe('component secret', () => {
  const sm = mockClient(SecretsManagerClient);
  beforeEach(() => sm.reset());
  const secret = {
    componentAppSecret: 'app-secret-value',
    token: 'token-value',
    encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  };
  const depsReading = (clock: () => number) =>
    createDeps(loadConfig({ ...env, COMPONENT_SECRET_ID: 'component' }), {
      clock,
      log: recordingLog(),
      metrics: recordingMetrics(),
    });

  it('is read from Secrets Manager lazily, once per cache period, and shared by concurrent callers', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(secret) });
    let now = 0;
    const deps = depsReading(() => now);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 0);
    const [a, b] = await Promise.all([deps.secrets(), deps.secrets()]);
    expect(a).toEqual(secret);
    expect(b).toBe(a);
    now = SECRET_CACHE_MS - 1;
    await deps.secrets();
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    now = SECRET_CACHE_MS;
    await deps.secrets();
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'component' });
  });

  it('builds the message crypto from the secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(secret) });
    const crypto = await depsReading(() => 0).msgCrypto();
    expect(crypto.verifySignature({ signature: 'x'.repeat(40), timestamp: '1', nonce: '2' })).toBe(
      false
    );
  });

  it('does not cache a failure, and never echoes the secret in its errors', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(new Error('AccessDeniedException'))
      .resolves({ SecretString: JSON.stringify({ ...secret, token: '' }) });
    const deps = depsReading(() => 0);
    await expect(deps.secrets()).rejects.toThrow(
      'component secret could not be read from Secrets Manager'
    );
    const error = await deps.secrets().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toBe('ConfigError: invalid configuration: component secret has no token');
    expect(String(error)).not.toContain('app-secret-value');
  });

  it.each([
    ['not JSON', 'not json', 'component secret is not JSON'],
    [
      'missing fields',
      '{}',
      'component secret has no componentAppSecret; component secret has no token; component secret has no encodingAesKey',
    ],
  ])('rejects a secret that is %s', (_what, value, message) => {
    expect(() => parseComponentSecret(value)).toThrow(message);
  });

  it('keeps the previous EncodingAESKey during a key change', () => {
    const parsed = parseComponentSecret(
      JSON.stringify({ ...secret, previousEncodingAesKey: 'x'.repeat(43) })
    );
    expect(parsed.previousEncodingAesKey).toBe('x'.repeat(43));
  });
});
