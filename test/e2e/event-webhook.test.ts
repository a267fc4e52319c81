import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleBusEvent } from '../../client/src/index';
import { type LocalEventPage, localEventBus } from '../../local/local-events';
import { type Sandbox, startSandbox } from '../../local/sandbox';
import { readSandboxSettings } from '../../local/sandbox-settings';
import { ConfigError } from '../../shared/errors';
import { lifecycleEvent } from '../../shared/events/lifecycle-event';
import { type Log, silentLog } from '../../shared/log';
import { AUTHORIZER_APPID, COMPONENT_APPID, T0 } from '../support/test-ids';
import { ROOT } from './sandbox-process';

const MERCHANT = 'wx1234567890abcdef';
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(
  JSON.parse(readFileSync(join(ROOT, 'client', 'schemas', 'lifecycle-event.schema.json'), 'utf8'))
);

/** A consumer's webhook: a tiny HTTP server that keeps what is POSTed to it. */
async function startWebhook(answer: (respond: () => void) => void = (respond) => respond()) {
  const received: { path: string; contentType: string; body: unknown }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: `${request.method} ${request.url}`,
        contentType: request.headers['content-type'] ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      answer(() => response.writeHead(204).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { server, url, received, close };
}

async function eventually<T>(read: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('not received in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the sandbox’s event webhook and cursor, as a consumer uses them', () => {
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  let sandbox: Sandbox;
  const page = async (cursor?: string) => {
    const query = cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`;
    const response = await fetch(`${sandbox.url}/local/events${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as LocalEventPage;
  };

  beforeAll(async () => {
    webhook = await startWebhook();
    sandbox = await startSandbox(
      readSandboxSettings({
        PORT: '0',
        REFRESH_INTERVAL_MS: '0',
        EVENTS_WEBHOOK_URL: webhook.url,
      }),
      silentLog
    );
  });
  afterAll(async () => {
    await sandbox?.close();
    await webhook?.close();
  });

  it('POSTs the authorized lifecycle event to the webhook, valid by the client’s JSON Schema; the cursor pages what is new', async () => {
    const before = await page();
    await sandbox.simulator!.pushAuthorized(MERCHANT, { funcIds: [1] });

    const delivery = await eventually(() => webhook.received[0]);
    const envelope = delivery.body as LifecycleBusEvent;
    const after = await page(before.cursor);

    expect(delivery).toMatchObject({ path: 'POST /events', contentType: 'application/json' });
    expect(envelope).toEqual({
      source: 'wechat-token-service',
      'detail-type': 'authorized',
      time: envelope.detail.time,
      detail: expect.objectContaining({
        type: 'authorized',
        authorizerAppId: MERCHANT,
        status: 'active',
        permissionSetIds: [1],
        reason: 'push',
      }),
    });
    expect(validate(envelope.detail), JSON.stringify(validate.errors)).toBe(true);
    expect(before.events).toEqual([]);
    expect(after.events).toEqual([envelope]);
    expect(await page(after.cursor)).toEqual({ events: [], cursor: after.cursor });
    expect(await page()).toEqual(after);
  });

  it('sends each later event once, and the next page holds only those', async () => {
    const { cursor } = await page();
    const seen = webhook.received.length;
    await sandbox.simulator!.pushUnauthorized(MERCHANT);

    const delivery = await eventually(() => webhook.received[seen]);
    const next = await page(cursor);

    expect(next.events.map((e) => [e['detail-type'], e.detail.authorizerAppId])).toEqual([
      ['revoked', MERCHANT],
    ]);
    expect(delivery.body).toEqual(next.events[0]);
    expect(Number(next.cursor)).toBeGreaterThan(Number(cursor));
    expect(webhook.received).toHaveLength(seen + 1);
  });

  it('answers a cursor it never gave with a 400 and a JSON error', async () => {
    const { cursor } = await page();

    for (const bad of [`${Number(cursor) + 1}`, 'abc']) {
      const response = await fetch(`${sandbox.url}/local/events?cursor=${bad}`);
      expect(response.status, bad).toBe(400);
      expect(await response.json()).toEqual({
        error: { code: 'invalid_request', message: expect.stringContaining('cursor') },
      });
    }
  });
});

describe('the event webhook, best effort', () => {
  const event = lifecycleEvent(COMPONENT_APPID, {
    type: 'authorized',
    authorizerAppId: AUTHORIZER_APPID,
    status: 'active',
    permissionSetIds: [1],
    reason: 'redirect',
    at: T0,
  });

  it('never makes a publish wait for a slow webhook, and logs a delivery that timed out', async () => {
    const hanging = await startWebhook(() => undefined);
    const warnings: unknown[][] = [];
    const log: Log = { ...silentLog, warn: (...args) => warnings.push(args) };
    try {
      const bus = localEventBus(log, 10, { url: hanging.url, timeoutMs: 200 });

      const started = performance.now();
      expect(await bus.publish([event])).toEqual({ failed: [] });
      expect(performance.now() - started).toBeLessThan(100);
      await bus.delivered();

      expect(hanging.received).toHaveLength(1);
      expect(warnings).toEqual([
        [
          'event webhook failed',
          { url: hanging.url, detailType: 'authorized', errorName: 'TimeoutError' },
        ],
      ]);
    } finally {
      await hanging.close();
    }
  });

  it('logs a refused delivery and a webhook that is not there, and keeps the events', async () => {
    const refusing = await startWebhook();
    refusing.server.removeAllListeners('request');
    refusing.server.on('request', (_request, response) => response.writeHead(500).end());
    const gone = await startWebhook();
    await gone.close();
    const warnings: unknown[][] = [];
    const log: Log = { ...silentLog, warn: (...args) => warnings.push(args) };
    try {
      for (const url of [refusing.url, gone.url]) {
        const bus = localEventBus(log, 10, { url });
        await bus.publish([event]);
        await bus.delivered();
        expect(bus.page().events).toHaveLength(1);
      }

      expect(warnings).toEqual([
        ['event webhook failed', { url: refusing.url, detailType: 'authorized', status: 500 }],
        [
          'event webhook failed',
          { url: gone.url, detailType: 'authorized', errorName: 'TypeError' },
        ],
      ]);
    } finally {
      await refusing.close();
    }
  });

  it('is an http(s) URL, or the sandbox refuses to start', () => {
    expect(() => readSandboxSettings({ EVENTS_WEBHOOK_URL: 'ftp://127.0.0.1/events' })).toThrow(
      ConfigError
    );
    expect(() => readSandboxSettings({ EVENTS_WEBHOOK_URL: 'not a url' })).toThrow(
      /EVENTS_WEBHOOK_URL must be an http\(s\) URL/
    );
    expect(readSandboxSettings({}).eventsWebhookUrl).toBeUndefined();
  });
});
