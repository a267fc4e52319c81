import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeHandler } from '../../../functions/auth-event';
import { createDeps, type Deps } from '../../../functions/lib/deps';
import { type LocalDynamo, startLocalDynamo } from '../../../local/local-dynamo';
import { loadConfig } from '../../../shared/config';
import { MsgCrypto, sha1Signature } from '../../../shared/crypto/msg-crypto';
import { httpEvent } from '../../support/events';
import { SECRET } from '../../support/harness';
import { type RecordedLog, recordingLog, recordingMetrics } from '../../support/recorders';
import { COMPONENT_APPID, OTHER_COMPONENT_APPID, T0 } from '../../support/test-ids';

const crypto = new MsgCrypto({ ...SECRET, appId: COMPONENT_APPID });
const context = {} as Context;

let dynamo: LocalDynamo;
let deps: Deps;
let log: RecordedLog;
let tableName: string;
let handler: ReturnType<typeof makeHandler>;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  tableName = await dynamo.createTable();
  log = recordingLog();
  deps = createDeps(
    loadConfig({ TOKEN_TABLE_NAME: tableName, COMPONENT_APPID, COMPONENT_SECRET_ID: 'local' }),
    {
      dynamo: dynamo.doc,
      secrets: async () => SECRET,
      clock: () => T0,
      log,
      metrics: recordingMetrics(),
    }
  );
  handler = makeHandler(async () => deps);
});

const snapshot = async () =>
  (await dynamo.doc.send(new ScanCommand({ TableName: tableName }))).Items ?? [];

function ticketXml(ticket: string, createTimeSeconds = T0 / 1000) {
  return `<xml><AppId><![CDATA[${COMPONENT_APPID}]]></AppId><CreateTime>${createTimeSeconds}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[${ticket}]]></ComponentVerifyTicket></xml>`;
}

/** A push exactly as WeChat sends it: signed query, encrypted envelope. */
function push(plaintext: string, tamper: { encrypt?: (e: string) => string; appId?: string } = {}) {
  const sealed = crypto.encrypt(plaintext, { timestamp: String(T0 / 1000), nonce: '1234567' });
  const encrypt = tamper.encrypt ? tamper.encrypt(sealed.encrypt) : sealed.encrypt;
  const { timestamp, nonce } = sealed;
  return {
    query: {
      timestamp,
      nonce,
      encrypt_type: 'aes',
      msg_signature: sha1Signature(SECRET.token, timestamp, nonce, encrypt),
      signature: sha1Signature(SECRET.token, timestamp, nonce),
    },
    body: `<xml><AppId><![CDATA[${tamper.appId ?? COMPONENT_APPID}]]></AppId><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
  };
}

const post = (input: {
  query?: Record<string, string>;
  body?: string;
  headers?: Record<string, string>;
  isBase64Encoded?: boolean;
}) =>
  handler(
    httpEvent({
      method: 'POST',
      path: '/wechat/events',
      headers: { 'content-type': 'text/xml' },
      ...input,
    }),
    context
  );

describe('POST /wechat/events', () => {
  it('round-trips a ticket push built by our own encrypt() into the table and answers exactly "success"', async () => {
    const response = await post(push(ticketXml('ticket@@@round-trip')));
    expect(response).toMatchObject({ statusCode: 200, body: 'success' });
    expect(response.headers?.['content-type']).toBe('text/plain; charset=utf-8');
    expect(await deps.store.getTicket(COMPONENT_APPID)).toEqual({
      componentAppId: COMPONENT_APPID,
      ticket: 'ticket@@@round-trip',
      createTime: T0,
      receivedAt: T0,
    });
  });

  it('acknowledges a well-signed push with nested elements it does not act on, and stores nothing', async () => {
    const fastRegister = `<xml><AppId><![CDATA[${COMPONENT_APPID}]]></AppId><CreateTime>${T0 / 1000}</CreateTime><InfoType><![CDATA[notify_third_fasteregister]]></InfoType><appid><![CDATA[wxnewminiprogram1]]></appid><status>0</status><auth_code><![CDATA[fastcode]]></auth_code><msg><![CDATA[OK]]></msg><info><name><![CDATA[Shop Ltd]]></name><code><![CDATA[91440300MA5XXXXXXX]]></code><code_type>1</code_type><legal_persona_wechat><![CDATA[wechatid]]></legal_persona_wechat><legal_persona_name><![CDATA[Name]]></legal_persona_name><component_phone><![CDATA[10086]]></component_phone></info></xml>`;
    const response = await post(push(fastRegister));
    expect(response).toMatchObject({ statusCode: 200, body: 'success' });
    expect(await snapshot()).toEqual([]);
  });

  it('still refuses a push with a repeated top-level element (which one would count?)', async () => {
    const repeated = ticketXml('ticket@@@one').replace(
      '</xml>',
      '<ComponentVerifyTicket>ticket@@@two</ComponentVerifyTicket></xml>'
    );
    expect(await post(push(repeated))).toMatchObject({ statusCode: 400 });
    expect(await snapshot()).toEqual([]);
  });

  it('accepts a body API Gateway base64-encoded', async () => {
    const request = push(ticketXml('ticket@@@b64'));
    const response = await post({
      ...request,
      body: Buffer.from(request.body).toString('base64'),
      isBase64Encoded: true,
    });
    expect(response.statusCode).toBe(200);
    expect((await deps.store.getTicket(COMPONENT_APPID))?.ticket).toBe('ticket@@@b64');
  });

  it('never lets an older push replace a newer ticket, and still answers success', async () => {
    await post(push(ticketXml('ticket@@@new', T0 / 1000)));
    const response = await post(push(ticketXml('ticket@@@old', T0 / 1000 - 600)));
    expect(response.body).toBe('success');
    expect((await deps.store.getTicket(COMPONENT_APPID))?.ticket).toBe('ticket@@@new');
  });

  const good = () => push(ticketXml('ticket@@@must-not-be-stored'));
  const cases: [string, () => Parameters<typeof post>[0], number, string][] = [
    [
      'a wrong msg_signature',
      () => ({ ...good(), query: { ...good().query, msg_signature: 'f'.repeat(40) } }),
      401,
      'msg_signature does not match',
    ],
    [
      'a wrong plain signature',
      () => ({ ...good(), query: { ...good().query, signature: '0'.repeat(40) } }),
      401,
      'signature does not match',
    ],
    [
      'a missing msg_signature',
      () => {
        const r = good();
        const { msg_signature: _m, ...query } = r.query;
        return { ...r, query };
      },
      400,
      'missing query parameter msg_signature',
    ],
    [
      'missing timestamp and nonce',
      () => {
        const r = good();
        const { timestamp: _t, nonce: _n, ...query } = r.query;
        return { ...r, query };
      },
      400,
      'missing query parameter timestamp, nonce',
    ],
    ['no query at all', () => ({ body: good().body }), 400, 'missing query parameter'],
    [
      'plaintext mode',
      () => ({ ...good(), query: { ...good().query, encrypt_type: 'raw' } }),
      400,
      'encrypt_type must be aes',
    ],
    [
      'an envelope for another AppId',
      () => push(ticketXml('t'), { appId: OTHER_COMPONENT_APPID }),
      400,
      'another component appid',
    ],
    [
      'truncated base64',
      () => push(ticketXml('t'), { encrypt: (e) => e.slice(0, 40) }),
      400,
      'Encrypt',
    ],
    [
      'a ciphertext cut to whole blocks',
      () =>
        push(ticketXml('t'), {
          encrypt: (e) => Buffer.from(e, 'base64').subarray(0, 32).toString('base64'),
        }),
      400,
      'Encrypt',
    ],
    [
      'a DOCTYPE with entities',
      () => ({ ...good(), body: `<!DOCTYPE xml [<!ENTITY x "y">]>${good().body}` }),
      400,
      'DTD or entity',
    ],
    [
      'a 1 MB body',
      () => ({ ...good(), body: `<xml><Encrypt>${'A'.repeat(1024 * 1024)}</Encrypt></xml>` }),
      413,
      'larger than',
    ],
    ['an empty body', () => ({ ...good(), body: '' }), 400, 'empty'],
    [
      'a JSON content type',
      () => ({ ...good(), headers: { 'content-type': 'application/json' } }),
      400,
      'content-type must be XML',
    ],
  ];

  it.each(cases)(
    'rejects %s with a clear 4xx and writes nothing',
    async (_what, request, status, message) => {
      const before = await snapshot();
      const response = await post(request());
      expect(response.statusCode).toBe(status);
      expect(response.body).toContain(message);
      expect(await snapshot()).toEqual(before);
    }
  );

  it('rejects bad PKCS#7 padding inside a validly signed message', async () => {
    const { createCipheriv } = await import('node:crypto');
    const key = Buffer.from(`${SECRET.encodingAesKey}=`, 'base64');
    const plain = Buffer.concat([
      Buffer.alloc(16, 1),
      Buffer.from([0, 0, 0, 1]),
      Buffer.from('x'),
      Buffer.from(COMPONENT_APPID),
    ]);
    const padded = Buffer.concat([plain, Buffer.alloc(64 - plain.length - 1, 0), Buffer.from([0])]);
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const forged = Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
    const response = await post(push(ticketXml('t'), { encrypt: () => forged }));
    expect(response).toMatchObject({ statusCode: 400, body: 'Encrypt has invalid padding' });
    expect(await snapshot()).toEqual([]);
  });

  it('logs no ticket, secret or plaintext while handling good and bad pushes', async () => {
    await post(push(ticketXml('ticket@@@log-check')));
    await post({
      ...push(ticketXml('ticket@@@forged')),
      query: { ...good().query, msg_signature: 'a'.repeat(40) },
    });
    const text = log.text();
    expect(log.entries.length).toBeGreaterThan(1);
    for (const secret of [
      'ticket@@@log-check',
      'ticket@@@forged',
      SECRET.token,
      SECRET.encodingAesKey,
      SECRET.componentAppSecret,
      'ComponentVerifyTicket',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});
