import { afterAll, describe, expect, it } from 'vitest';
import { consoleLog, consoleMetrics, formatFields } from '../../../local/console-log';
import {
  DEFAULT_COMPONENT_APPID,
  main,
  PortInUseError,
  readSandboxSettings,
  type Sandbox,
  startSandbox,
  startupLines,
} from '../../../local/sandbox';
import { ConfigError } from '../../../shared/errors';
import { silentLog } from '../../../shared/log';

const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const GIVEN = {
  COMPONENT_APPID: 'wx1111222233334444',
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
      refreshIntervalMs: 60_000,
      ticketIntervalMs: 600_000,
      logLevel: 'info',
      generated: ['COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY'],
    });
    expect(a.externalWechat).toBeUndefined();
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
});

describe('console log', () => {
  const lines: string[] = [];
  const sink = {
    out: (l: string) => lines.push(`out ${l}`),
    err: (l: string) => lines.push(`err ${l}`),
  };

  it('writes one compact line per entry, redacted, warnings and errors to stderr', () => {
    lines.length = 0;
    const log = consoleLog({ sink, clock: () => new Date(2026, 0, 2, 3, 4, 5, 6).getTime() });
    log.info('component_verify_ticket stored', { createTime: 1700000000 });
    log.warn('refused', { accessToken: 'at-123', authorizerAppId: 'wx1', note: 'two words' });
    log.error('failed', { code: 'x', reason: undefined, failed: '' });
    log.debug('hidden at info');
    expect(lines).toEqual([
      'out 03:04:05.006 INFO  component_verify_ticket stored createTime=1700000000',
      'err 03:04:05.006 WARN  refused accessToken="[redacted]" authorizerAppId=wx1 note="two words"',
      'err 03:04:05.006 ERROR failed code=x',
    ]);
  });

  it('shows metrics as debug lines only', () => {
    lines.length = 0;
    const metrics = consoleMetrics(consoleLog({ sink, level: 'debug', clock: () => 0 }));
    metrics.count('TicketReceived');
    metrics.count('AuthorizerRefreshFailed', 2, 'wechat_61023');
    metrics.gauge('TicketAgeSeconds', 12, 'Seconds');
    expect(lines.map((l) => l.replace(/^out \S+ /, ''))).toEqual([
      'DEBUG metric TicketReceived +1',
      'DEBUG metric AuthorizerRefreshFailed +2 errorCode=wechat_61023',
      'DEBUG metric TicketAgeSeconds = 12 Seconds',
    ]);
    lines.length = 0;
    consoleMetrics(consoleLog({ sink })).count('TicketReceived');
    expect(lines).toEqual([]);
  });

  it('quotes values that are not one plain word', () => {
    expect(formatFields({ a: 'x y', b: 1, c: true, d: null, e: 'wx1,wx2', f: 'say "hi"' })).toBe(
      'a="x y" b=1 c=true d=null e=wx1,wx2 f="say \\"hi\\""'
    );
  });
});

describe('startSandbox in process', () => {
  const started: Sandbox[] = [];
  afterAll(async () => {
    for (const sandbox of started) await sandbox.close();
  });

  it('serves the authorization page, runs the refresh, and refuses a taken port after closing what it started', async () => {
    const settings = readSandboxSettings({ PORT: '0', REFRESH_INTERVAL_MS: '0' });
    const entries: string[] = [];
    const log = consoleLog({ sink: { out: (l) => entries.push(l), err: (l) => entries.push(l) } });
    const sandbox = await startSandbox(settings, log);
    started.push(sandbox);
    expect(sandbox.simulator?.pushes[0]).toMatchObject({
      infoType: 'component_verify_ticket',
      status: 200,
      body: 'success',
    });
    const page = await fetch(sandbox.authorizePageUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`${sandbox.wechat.url}/cgi-bin/componentloginpage?`);
    await sandbox.runRefresh();
    expect(entries.filter((e) => e.includes('scheduled refresh finished'))).toHaveLength(1);
    expect(startupLines(sandbox, settings).at(-1)).toBe(`listening on ${sandbox.url}`);

    const port = Number(new URL(sandbox.url).port);
    const error = await startSandbox({ ...settings, port }, silentLog).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortInUseError);
    expect((error as Error).message).toBe(
      `port ${port} is already in use; set PORT=<another port>, e.g. PORT=${port + 1} npm start`
    );

    await sandbox.close();
    await sandbox.close();
    await expect(fetch(sandbox.authorizePageUrl)).rejects.toThrow();
  });

  it('main answers exit code 1 and the problems for a bad configuration', async () => {
    const err: string[] = [];
    const code = await main({ PORT: 'x' }, { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join('\n')).toBe(
      'sandbox: invalid configuration:\n  - PORT must be an integer from 0 to 65535'
    );
  });
});
