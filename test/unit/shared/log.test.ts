import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOG_FIELD_KINDS, REDACTED, redactFields, withLogFields } from '../../../shared/log';
import { recordingLog } from '../../support/recorders';
import {
  AUTHORIZER_APPID as A,
  authorizerAppId,
  OTHER_AUTHORIZER_APPID as B,
} from '../../support/test-ids';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const chars = (alphabet: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((c) => c.join(''));
const random = (alphabet: string, length: number) =>
  Array.from({ length }, (_, i) => alphabet[(i * 7919 + 13) % alphabet.length]).join('');

/**
 * Credentials as WeChat and the platform shape them (wechat-protocol.md §2): access tokens (`76_…`),
 * `ticket@@@…`, `refreshtoken@@@…`, `queryauthcode@@@…`, `preauthcode@@@…`, the 32-hex AppSecret, the
 * 43-character EncodingAESKey, the callback token. Random ones carry a digit and an uppercase letter, as
 * every real one does.
 */
const credential = fc.oneof(
  chars(`${ALNUM}_-`, 100, 180).map((rest) => `76_${rest}`),
  fc
    .tuple(
      fc.constantFrom('ticket', 'refreshtoken', 'queryauthcode', 'preauthcode'),
      chars(`${ALNUM}_-`, 30, 90)
    )
    .map(([prefix, rest]) => `${prefix}@@@${rest}`),
  chars('0123456789abcdef', 32, 32).filter((s) => /\d/.test(s)),
  chars(ALNUM, 43, 43).filter((s) => /\d/.test(s) && /[A-Z]/.test(s)),
  chars(`${ALNUM}_`, 16, 32).filter((s) => /\d/.test(s) && /[A-Z]/.test(s))
);

const NAMES = [...Object.keys(LOG_FIELD_KINDS), 'note', 'value', 'ticket', 'x'];

describe('redactFields: an allow-list of value kinds, not a deny-list of names', () => {
  it('writes numbers and booleans under any name, so ticketAgeSeconds and ticketUsable show', () => {
    expect(
      redactFields({ ticketAgeSeconds: 340, ticketUsable: true, tokenCount: 3, nothing: null })
    ).toEqual({ ticketAgeSeconds: 340, ticketUsable: true, tokenCount: 3, nothing: null });
  });

  it('writes each declared kind as it is', () => {
    const fields = {
      authorizerAppId: A,
      code: 'wechat_ip_not_whitelisted',
      api: 'api_authorizer_token',
      errorName: 'ResourceNotFoundException',
      requestIp: '203.0.113.7',
      egressIp: '2001:db8::7',
      route: 'POST /wechat/events',
      failed: 'wechat_busy:2,store_unavailable:1',
      permissions: '1,15,18',
      rid: '64705d91-0719e11e-25594278',
      now: '2026-11-25T08:00:00.000Z',
      causeName: 'TimeoutError',
      url: 'https://api.weixin.qq.com/cgi-bin/component/api_authorizer_token',
      infoType: 'component_verify_ticket',
      quotas: 'api_query_auth 12/10000, api_authorizer_token 1620/2000',
    };
    expect(redactFields(fields)).toEqual(fields);
  });

  it('replaces a string under a name it does not know, whatever the string', () => {
    expect(redactFields({ note: 'two words', state: 'ok' })).toEqual({
      note: REDACTED,
      state: REDACTED,
    });
  });

  it('replaces a string that is not of its field kind (a token under an innocent declared name)', () => {
    const token = `76_${random(ALNUM, 120)}`;
    expect(
      redactFields({
        authorizerAppId: token,
        code: token,
        api: 'refreshtoken@@@abc',
        errorName: 'AbCdEf0123456789AbCdEf0123456789',
        requestIp: token,
        route: `GET /authorize?auth_code=${token}`,
        rid: token,
        url: token,
        quotas: `api_query_auth ${token}`,
      })
    ).toEqual({
      authorizerAppId: REDACTED,
      code: REDACTED,
      api: REDACTED,
      errorName: REDACTED,
      requestIp: REDACTED,
      route: REDACTED,
      rid: REDACTED,
      url: REDACTED,
      quotas: REDACTED,
    });
  });

  it('writes a URL without its query, fragment or user info', () => {
    expect(
      redactFields({
        url: 'https://user:pw@api.weixin.qq.com/cgi-bin/component/api_authorizer_token?component_access_token=76_AbC#x',
      })
    ).toEqual({ url: 'https://api.weixin.qq.com/cgi-bin/component/api_authorizer_token' });
    expect(redactFields({ url: 'file:///etc/passwd' })).toEqual({ url: REDACTED });
    expect(redactFields({ url: `https://example.com/t/${random(ALNUM, 40)}` })).toEqual({
      url: REDACTED,
    });
  });

  it('has no free-text kind: a sentence is replaced, since a console-chosen Token can be a plain word', () => {
    expect(
      redactFields({
        detail: 'WeChat api_authorizer_token unavailable: no answer within 3000 ms',
        errmsg: 'invalid credential rid: 64705d91-0719e11e-25594278',
        code: 'two words',
      })
    ).toEqual({ detail: REDACTED, errmsg: REDACTED, code: REDACTED });
  });

  it('replaces objects, arrays and other non-primitive values', () => {
    const fields = { detail: { token: 'x' }, code: ['a'] } as unknown as Record<string, string>;
    expect(redactFields(fields)).toEqual({ detail: REDACTED, code: REDACTED });
  });

  it('never writes a credential, under any field name, alone, in a sentence or in a URL query', () => {
    fc.assert(
      fc.property(credential, fc.constantFrom(...NAMES), (secret, name) => {
        const written = JSON.stringify(
          redactFields({
            [name]: secret,
            detail: `refused ${secret} again`,
            errmsg: `${secret}`,
            url: `https://api.weixin.qq.com/cgi-bin/component/api_component_token?component_access_token=${secret}`,
          })
        );
        return !written.includes(secret);
      }),
      { numRuns: 2000 }
    );
  });
});

describe('withLogFields: context given once, on every line written through it', () => {
  it('adds the persistent fields to every level, with or without fields at the call', () => {
    const log = recordingLog();
    const child = withLogFields(log, { authorizerAppId: A });
    child.debug('d');
    child.info('i', { outcome: 'refreshed' });
    child.warn('w', { code: 'wechat_busy' });
    child.error('e', { errcode: -1 });
    expect(log.entries).toEqual([
      { level: 'debug', message: 'd', fields: { authorizerAppId: A } },
      { level: 'info', message: 'i', fields: { authorizerAppId: A, outcome: 'refreshed' } },
      { level: 'warn', message: 'w', fields: { authorizerAppId: A, code: 'wechat_busy' } },
      { level: 'error', message: 'e', fields: { authorizerAppId: A, errcode: -1 } },
    ]);
  });

  it('lets a field given at the call win, but not erase one with undefined', () => {
    const log = recordingLog();
    const child = withLogFields(log, { authorizerAppId: A, step: 'permissions' });
    child.warn('w', { step: 'reconcile_retry', authorizerAppId: undefined, rid: undefined });
    expect(log.entries[0]?.fields).toStrictEqual({
      authorizerAppId: A,
      step: 'reconcile_retry',
      rid: undefined,
    });
  });

  it('accumulates through nested children and leaves the parent as it was', () => {
    const log = recordingLog();
    const job = withLogFields(log, { job: 'refresh' });
    const item = withLogFields(job, { authorizerAppId: A });
    item.info('renewed');
    job.info('job line');
    log.info('plain line');
    expect(log.entries.map((e) => e.fields)).toEqual([
      { job: 'refresh', authorizerAppId: A },
      { job: 'refresh' },
      {},
    ]);
  });

  it('keeps each child’s context to its own lines when several are used at once', async () => {
    const log = recordingLog();
    const ids = [A, B, authorizerAppId(3)];
    await Promise.all(
      ids.map(async (authorizerAppId, i) => {
        const child = withLogFields(log, { authorizerAppId });
        await new Promise((resolve) => setTimeout(resolve, 3 - i));
        child.info('renewed', { seq: i });
      })
    );
    expect(log.entries.map((e) => [e.fields.seq, e.fields.authorizerAppId]).sort()).toEqual([
      [0, ids[0]],
      [1, ids[1]],
      [2, ids[2]],
    ]);
  });
});
