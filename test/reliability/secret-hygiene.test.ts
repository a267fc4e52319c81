import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { walkAuthorization } from '../support/browser';
import { type Harness, startHarness } from '../support/harness';
import { credentialValues, leakedIn } from '../support/reliability-stack';
import { forgedSignature, sealedPush } from '../support/wechat-forgery';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  process.env.LOG_LEVEL = 'DEBUG';
  delete process.env.POWERTOOLS_DEV;
});

const MERCHANT = 'wxmerchanthygiene1';
const MINUTE = 60_000;

/** Everything written to stdout, stderr or the global console while `run` runs. */
async function captureOutput(run: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const keep = (chunk: unknown) => {
    chunks.push(
      typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8')
    );
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  const consoles = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      keep(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
    })
  );
  try {
    await run();
  } finally {
    for (const spy of [stdout, stderr, ...consoles]) spy.mockRestore();
  }
  return chunks.join('');
}

describe('secret hygiene with the real Powertools logger at DEBUG', () => {
  let h: Harness;
  let output = '';

  const credentials = new Set<string>();

  beforeAll(async () => {
    const collect = () => {
      for (const value of credentialValues(h.simulator, { preAuthCodes: true })) {
        credentials.add(value);
      }
    };
    output = await captureOutput(async () => {
      h = await startHarness({ powertools: true, wechatTimeoutMs: 200 });
      await h.simulator.pushTicket();
      await h.token({ component: true });
      const walk = await walkAuthorization(h.service.url, { authorizerAppId: MERCHANT });
      await h.simulator.flushPushes();
      await fetch(walk.callbackUrl);
      collect();
      const first = await h.token({ authorizerAppId: MERCHANT });
      h.clock.advance(MINUTE);
      await h.token({ authorizerAppId: MERCHANT, invalidToken: first.accessToken });
      collect();

      h.clock.advance(106 * MINUTE);
      await h.simulator.pushTicket();
      await h.refresh();
      collect();

      h.simulator.rotateRefreshToken(MERCHANT);
      h.clock.advance(106 * MINUTE);
      await h.simulator.pushTicket();
      await h.refresh();
      collect();

      const current = await h.token({ authorizerAppId: MERCHANT });
      h.clock.advance(MINUTE);
      h.simulator.failNext('api_authorizer_token', { errcode: 61004 });
      await h.token({ authorizerAppId: MERCHANT, invalidToken: current.accessToken });
      h.simulator.failNext('api_authorizer_token', 'timeout', 2);
      await h.token({ authorizerAppId: MERCHANT, invalidToken: current.accessToken });
      const forged = sealedPush('<xml/>');
      const query = new URLSearchParams({ ...forged.query, msg_signature: forgedSignature('x') });
      await fetch(`${h.service.url}/wechat/events?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: forged.body,
      });
      await h.token({ authorizerAppId: 'null' });
      collect();

      await h.simulator.pushUnauthorized(MERCHANT);
      await h.token({ authorizerAppId: MERCHANT });
      await h.simulator.flushPushes();
      collect();
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('captured the DEBUG-level structured output of the whole flow, errors included', () => {
    const lines = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const levels = new Set(lines.map((line) => line.level));
    expect(levels).toContain('DEBUG');
    expect(levels).toContain('ERROR');
    const codes = new Set(lines.map((line) => line.code).filter(Boolean));
    for (const code of [
      'signature_mismatch',
      'wechat_ip_not_whitelisted',
      'wechat_unavailable',
      'invalid_request',
      'authorizer_revoked',
    ]) {
      expect(codes).toContain(code);
    }
    expect(output).toContain('refresh token rejected (61023)');
    expect(h.simulator.callCount('api_get_authorizer_list')).toBe(1);
    expect(h.simulator.pushes.map((p) => p.infoType)).toContain('unauthorized');
  });

  it('never writes a token, ticket, refresh token, auth code, pre-auth code, AppSecret or AES key', () => {
    const values = [...credentials];
    for (const prefix of ['ticket@@@', 'refreshtoken@@@', 'queryauthcode@@@', 'preauthcode@@@']) {
      expect(values.some((v) => v.startsWith(prefix))).toBe(true);
    }
    expect(values.filter((v) => v.startsWith('refreshtoken@@@')).length).toBeGreaterThanOrEqual(2);
    expect(leakedIn(output, values)).toEqual([]);
  });
});
