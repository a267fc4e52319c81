import { Agent, request } from 'node:http';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleLog, consoleMetrics, formatFields } from '../../../local/console-log';
import { ensureTokenTable, type LocalDynamo, startLocalDynamo } from '../../../local/local-dynamo';
import { PortInUseError, type Sandbox, startSandbox } from '../../../local/sandbox';
import { startupLines } from '../../../local/sandbox-banner';
import { DEFAULT_COMPONENT_APPID, readSandboxSettings } from '../../../local/sandbox-settings';
import { DUPLICATE_SIGNAL_WINDOW_MS, stopOnSignal } from '../../../local/shutdown';
import { InvalidAdvanceError, TimeTravel } from '../../../local/time-travel';
import { silentLog, withLogFields } from '../../../shared/log';
import { tokenTableDefinition } from '../../../shared/store/table-schema';
import { AUTHORIZER_APPID, HOUR } from '../../support/test-ids';

describe('ensureTokenTable', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startLocalDynamo();
  });
  afterAll(() => dynamo.close());

  it('creates the table with its due index only when missing, once across concurrent starts', async () => {
    const outcomes = await Promise.all([
      ensureTokenTable(dynamo.client, 'shared-tokens'),
      ensureTokenTable(dynamo.client, 'shared-tokens'),
    ]);
    expect(outcomes.sort()).toEqual(['created', 'existing']);
    expect(await ensureTokenTable(dynamo.client, 'shared-tokens')).toBe('existing');
    const { Table } = await dynamo.client.send(
      new DescribeTableCommand({ TableName: 'shared-tokens' })
    );
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['due']);
  });

  it('refuses a table of that name without the due index', async () => {
    const { GlobalSecondaryIndexes: _, ...table } = tokenTableDefinition('other-shape');
    const [partitionKey] = table.AttributeDefinitions;
    await dynamo.client.send(
      new CreateTableCommand({ ...table, AttributeDefinitions: [partitionKey!] })
    );
    await expect(ensureTokenTable(dynamo.client, 'other-shape')).rejects.toThrow(
      'table other-shape exists with another key or without the due index; set TOKEN_TABLE_NAME to another name'
    );
  });
});

describe('TimeTravel', () => {
  it('moves every clock it handed out by the same amount, each its own function', () => {
    let real = 1_000;
    const time = new TimeTravel(() => real);
    const service = time.clock();
    time.advance(500);
    const simulator = time.clock();
    expect(simulator).not.toBe(service);
    expect([service(), simulator(), time.now()]).toEqual([1_500, 1_500, 1_500]);
    real = 2_000;
    expect(time.advance(7_200_000)).toBe(7_202_500);
    expect([service(), simulator()]).toEqual([7_202_500, 7_202_500]);
    expect(time.offsetMs).toBe(7_200_500);
  });

  it('refuses what is not a non-negative integer or would leave the valid dates, changing nothing', () => {
    const time = new TimeTravel(() => 0);
    const clock = time.clock();
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, 8.64e15 + 1]) {
      expect(() => time.advance(bad)).toThrow(InvalidAdvanceError);
    }
    expect([clock(), time.offsetMs]).toEqual([0, 0]);
  });
});

describe('stopOnSignal', () => {
  function harness() {
    let now = 0;
    const exits: number[] = [];
    const lines: string[] = [];
    let finish: () => void = () => {};
    let closes = 0;
    const stop = stopOnSignal({
      close: () => {
        closes++;
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
      sink: { out: (l) => lines.push(l), err: (l) => lines.push(l) },
      exit: (code) => exits.push(code),
      now: () => now,
      schedule: () => {},
    });
    return {
      stop,
      exits,
      lines,
      closes: () => closes,
      at: (ms: number) => {
        now = ms;
      },
      finish: async () => {
        finish();
        await new Promise((resolve) => setImmediate(resolve));
      },
    };
  }

  it('takes relayed copies of the first signal (npm, tsx) for the same Ctrl-C: one stop, exit 0', async () => {
    const h = harness();
    h.stop('SIGINT');
    h.at(30);
    h.stop('SIGINT');
    h.at(DUPLICATE_SIGNAL_WINDOW_MS - 1);
    h.stop('SIGINT');
    expect(h.exits).toEqual([]);
    await h.finish();
    expect(h.closes()).toBe(1);
    expect(h.exits).toEqual([0]);
    expect(h.lines).toEqual(['sandbox: SIGINT received, stopping', 'sandbox: stopped']);
  });

  it('exits 1 at once on a signal after the window, or on another signal', () => {
    const late = harness();
    late.stop('SIGINT');
    late.at(DUPLICATE_SIGNAL_WINDOW_MS);
    late.stop('SIGINT');
    expect(late.exits).toEqual([1]);
    expect(late.lines.at(-1)).toBe('sandbox: SIGINT again, exiting without waiting');

    const other = harness();
    other.stop('SIGINT');
    other.stop('SIGTERM');
    expect(other.exits).toEqual([1]);
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
    log.warn('refused', {
      accessToken: 'at-123',
      authorizerAppId: AUTHORIZER_APPID,
      note: 'two words',
    });
    log.error('failed', { code: 'x', reason: undefined, failed: '' });
    log.debug('hidden at info');
    expect(lines).toEqual([
      'out 03:04:05.006 INFO  component_verify_ticket stored createTime=1700000000',
      `err 03:04:05.006 WARN  refused accessToken="[redacted]" authorizerAppId=${AUTHORIZER_APPID} note="[redacted]"`,
      'err 03:04:05.006 ERROR failed code=x',
    ]);
  });

  it('redacts a persistent field (withLogFields) as it redacts a field given at the call', () => {
    lines.length = 0;
    const token = '76_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIj';
    const log = withLogFields(consoleLog({ sink, clock: () => 0 }), {
      authorizerAppId: token,
      accessToken: token,
      job: 'refresh',
    });
    log.warn('refused', { code: 'wechat_busy' });
    expect(lines.map((l) => l.replace(/^err \S+ /, ''))).toEqual([
      'WARN  refused authorizerAppId="[redacted]" accessToken="[redacted]" job=refresh code=wechat_busy',
    ]);
    expect(lines.join('\n')).not.toContain(token);
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
});

/** One request through `agent`; the body is sent whole (`Content-Length`) or in chunks (chunked). */
function send(
  agent: Agent,
  url: string,
  body: Buffer | string,
  mode: 'whole' | 'chunked' = 'whole'
): Promise<{ status: number; text: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection })
      );
    });
    req.on('error', reject);
    if (mode === 'whole') {
      req.end(body);
      return;
    }
    const bytes = Buffer.from(body);
    for (let at = 0; at < bytes.length; at += 64 * 1024)
      req.write(bytes.subarray(at, at + 64 * 1024));
    req.end();
  });
}

describe('the sandbox over HTTP, in process', () => {
  let sandbox: Sandbox;
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const clockNow = async () => {
    const response = await fetch(`${sandbox.url}/local/clock`);
    return Date.parse(((await response.json()) as { now: string }).now);
  };

  beforeAll(async () => {
    sandbox = await startSandbox(
      readSandboxSettings({ PORT: '0', REFRESH_INTERVAL_MS: '0' }),
      silentLog
    );
  });
  afterAll(() => sandbox.close());

  it('answers an oversized body 413 with Connection: close; a keep-alive client\u2019s next request succeeds', async () => {
    const oversized = Buffer.alloc(3 * 1024 * 1024, 'a');
    for (const mode of ['whole', 'chunked'] as const) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const refused = await send(agent, `${sandbox.url}/local/token`, oversized, mode);
        expect(refused).toMatchObject({ status: 413, connection: 'close' });
        const next = await send(agent, `${sandbox.url}/local/token`, '{"component":true}');
        expect(next.status).toBe(200);
        expect(JSON.parse(next.text)).toMatchObject({ appId: DEFAULT_COMPONENT_APPID });
      } finally {
        agent.destroy();
      }
    }
    // fetch (undici) keeps connections alive too.
    const refused = await fetch(`${sandbox.url}/local/token`, { method: 'POST', body: oversized });
    expect(refused.status).toBe(413);
    await refused.arrayBuffer();
    expect((await post('/local/token', { component: true })).status).toBe(200);
  });

  it('GET /local/clock answers the sandbox\u2019s time; bad advances get a 400 and move nothing', async () => {
    const before = Date.now();
    expect(await clockNow()).toBeGreaterThanOrEqual(before);
    const bad: [unknown, string][] = [
      ['{', 'the body must be a JSON object: {"advanceMs": <milliseconds>}'],
      [[3_600_000], 'the body must be a JSON object: {"advanceMs": <milliseconds>}'],
      [{}, 'the body must have exactly one field, advanceMs'],
      [{ advanceMs: HOUR, extra: 1 }, 'the body must have exactly one field, advanceMs'],
      [{ advanceMs: -HOUR }, 'advanceMs must be an integer number of milliseconds, 0 or more'],
      [{ advanceMs: HOUR + 0.5 }, 'advanceMs must be an integer number of milliseconds, 0 or more'],
      [
        { advanceMs: String(HOUR) },
        'advanceMs must be an integer number of milliseconds, 0 or more',
      ],
      [{ advanceMs: 8.64e15 }, 'advanceMs would move the clock past the last valid date'],
    ];
    for (const [body, message] of bad) {
      expect(await post('/local/clock', typeof body === 'string' ? body : body)).toEqual({
        status: 400,
        json: { error: { code: 'invalid_request', message } },
      });
    }
    expect(await clockNow()).toBeLessThanOrEqual(Date.now());
    expect(sandbox.simulator?.now()).toBeLessThanOrEqual(Date.now());
  });

  it('advancing 2 hours renews the tokens on the spot (the simulator\u2019s clock moves too)', async () => {
    const simulator = sandbox.simulator!;
    expect(await simulator.pushAuthorized(AUTHORIZER_APPID)).toMatchObject({
      status: 200,
      body: 'success',
    });
    const first = await post('/local/token', { authorizerAppId: AUTHORIZER_APPID });
    const firstComponent = await post('/local/token', { component: true });
    expect(first.json).toMatchObject({ appId: AUTHORIZER_APPID, accessToken: expect.any(String) });
    const refreshes = simulator.callCount('api_authorizer_token');

    const before = Date.now();
    const advanced = await post('/local/clock', { advanceMs: 2 * HOUR });
    expect(advanced.status).toBe(200);
    const now = Date.parse(advanced.json.now as string);
    expect(now).toBeGreaterThanOrEqual(before + 2 * HOUR);
    expect(simulator.now()).toBeGreaterThanOrEqual(before + 2 * HOUR);
    // The scheduled refresh ran after the advance: one renewal, before anyone asked.
    expect(simulator.callCount('api_authorizer_token')).toBe(refreshes + 1);

    const second = await post('/local/token', { authorizerAppId: AUTHORIZER_APPID });
    const secondComponent = await post('/local/token', { component: true });
    expect(simulator.callCount('api_authorizer_token')).toBe(refreshes + 1);
    expect(second.json.accessToken).not.toBe(first.json.accessToken);
    expect(secondComponent.json.accessToken).not.toBe(firstComponent.json.accessToken);
    expect(simulator.tokenStatus(second.json.accessToken as string)).toBe('valid');
    expect(simulator.tokenStatus(first.json.accessToken as string)).not.toBe('valid');
    expect(Date.parse(second.json.expiresAt as string)).toBeGreaterThan(now);
  });

  it('advancing past the ticket\u2019s 12 hours: the simulator pushes the ticket that fell due first', async () => {
    const simulator = sandbox.simulator!;
    const tickets = () => simulator.pushes.filter((p) => p.infoType === 'component_verify_ticket');
    const pushed = tickets().length;
    const first = await post('/local/token', { component: true });
    const advanced = await post('/local/clock', { advanceMs: 13 * HOUR });
    expect(advanced.status).toBe(200);
    expect(tickets().slice(pushed)).toEqual([
      expect.objectContaining({ status: 200, body: 'success' }),
    ]);
    const second = await post('/local/token', { component: true });
    expect(second.json).toMatchObject({ appId: DEFAULT_COMPONENT_APPID });
    expect(second.json.accessToken).not.toBe(first.json.accessToken);
    expect(simulator.tokenStatus(second.json.accessToken as string)).toBe('valid');
  });

  it('counts the calls the built-in WeChat received', async () => {
    const response = await fetch(`${sandbox.url}/local/wechat-calls`);
    const { calls } = (await response.json()) as { calls: Record<string, number> };
    expect(calls.api_authorizer_token).toBe(sandbox.simulator?.callCount('api_authorizer_token'));
    expect(calls.api_component_token).toBeGreaterThanOrEqual(3);
  });
});
