import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { walkAuthorization } from '../support/browser';
import { captureOutput, logEntries, parseOutput } from '../support/capture-output';
import { type Harness, startHarness } from '../support/harness';
import { credentialValues, leakedIn } from '../support/reliability-stack';
import { AUTHORIZER_APPID, MINUTE } from '../support/test-ids';
import { forgedSignature, sealedPush } from '../support/wechat-forgery';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  process.env.LOG_LEVEL = 'DEBUG';
  delete process.env.POWERTOOLS_DEV;
  // Lambda's Node 24 never prints the SDK's Node-version warning (test/integration/deployed-logs.test.ts).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
});
/** Credentials under innocent names, in text and in a URL query: what a rule by field name let through. */
const PROBE = 'probe: credentials under names a name rule does not know';

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
      const walk = await walkAuthorization(h.service.url, { authorizerAppId: AUTHORIZER_APPID });
      await h.simulator.flushPushes();
      await fetch(walk.callbackUrl);
      collect();
      const first = await h.token({ authorizerAppId: AUTHORIZER_APPID });
      h.clock.advance(MINUTE);
      await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: first.accessToken });
      collect();

      h.clock.advance(106 * MINUTE);
      await h.simulator.pushTicket();
      await h.refresh();
      collect();

      h.simulator.rotateRefreshToken(AUTHORIZER_APPID);
      h.clock.advance(106 * MINUTE);
      await h.simulator.pushTicket();
      await h.refresh();
      collect();

      h.clock.advance(106 * MINUTE);
      await h.simulator.pushTicket();
      h.simulator.failNext('api_authorizer_token', 'timeout', 2);
      await h.refresh();
      collect();

      const current = await h.token({ authorizerAppId: AUTHORIZER_APPID });
      h.clock.advance(MINUTE);
      h.simulator.failNext('api_authorizer_token', { errcode: 61004 });
      await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: current.accessToken });
      h.simulator.failNext('api_authorizer_token', 'timeout', 2);
      await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: current.accessToken });
      const forged = sealedPush('<xml/>');
      const query = new URLSearchParams({ ...forged.query, msg_signature: forgedSignature('x') });
      await fetch(`${h.service.url}/wechat/events?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: forged.body,
      });
      await h.token({ authorizerAppId: 'null' });
      collect();

      await h.simulator.pushUnauthorized(AUTHORIZER_APPID);
      await h.token({ authorizerAppId: AUTHORIZER_APPID });
      await h.simulator.flushPushes();
      collect();

      for (const secret of credentials) {
        h.deps.log.warn(PROBE, {
          appId: secret,
          api: secret,
          note: secret,
          detail: `WeChat answered ${secret} today`,
          url: `${h.simulator.url}/cgi-bin/component/api_authorizer_token?component_access_token=${secret}`,
        });
      }
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

  it('writes only structured JSON lines', () => {
    expect(parseOutput(output).filter((line) => line.kind === 'text')).toEqual([]);
  });

  it('shows the ticket age in the refresh summary, which a rule by field name hid', () => {
    const summaries = logEntries(output).filter((e) => e.message === 'scheduled refresh finished');
    expect(summaries.length).toBeGreaterThanOrEqual(3);
    for (const summary of summaries) {
      expect(summary.ticketAgeSeconds).toEqual(expect.any(Number));
      expect(summary.ticketUsable).toBe(true);
    }
  });

  it('names the WeChat URL it could not reach, without the query that carries the token', () => {
    const unreachable = logEntries(output).filter(
      (e) => e.code === 'wechat_unavailable' && e.message === 'WeChat operation failed'
    );
    expect(unreachable.map((e) => [e.api, e.url, e.uncertain])).toContainEqual([
      'api_authorizer_token',
      `${h.simulator.url}/cgi-bin/component/api_authorizer_token`,
      true,
    ]);
    expect(output).not.toContain('component_access_token=');
  });

  it('redacts nothing the service itself logs: every string it writes is of a declared kind', () => {
    const redacted = logEntries(output).flatMap((e) =>
      Object.entries(e)
        .filter(([, value]) => value === '[redacted]')
        .map(([name]) => `${e.message === PROBE ? 'probe' : e.message}: ${name}`)
    );
    expect(new Set(redacted)).toEqual(
      new Set(['probe: appId', 'probe: api', 'probe: note', 'probe: detail'])
    );
    expect(output).not.toMatch(/reserved key/);
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
