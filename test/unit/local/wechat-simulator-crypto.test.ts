import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WechatSealer, wechatSignature } from '../../../local/simulator/crypto';
import { MsgCrypto } from '../../../shared/crypto/msg-crypto';
import { ConfigError } from '../../../shared/errors';
import rawVectors from '../../fixtures/crypto-vectors.json';
import { COMPONENT_APPID } from '../../support/test-ids';
import {
  decrypt,
  KEY,
  type Received,
  TOKEN,
  useSimulatorFixture,
} from './wechat-simulator-fixture';

/**
 * The simulator seals pushes with its own WXBizMsgCrypt code. These tests pin it to the public vectors and
 * show that the service's independent `MsgCrypto` opens what it seals, so neither side can drift alone.
 */

interface Vector {
  id: string;
  kind: string;
  token: string;
  encoding_aes_key?: string;
  appid?: string;
  timestamp: string;
  nonce: string;
  msg_signature?: string;
  encrypt?: string;
  random_prefix?: string;
  plaintext?: string;
  expected_encrypt?: string;
  expected_msg_signature?: string;
  expected_signature?: string;
  negative_cases?: { signature?: string }[];
  derived?: { plaintext?: string; random_prefix_hex?: string; trailing_receive_id?: string };
}
const vectors = rawVectors as unknown as Vector[];
const f = useSimulatorFixture();

describe('the simulator crypto against the public vectors', () => {
  const sealed = vectors.filter((v) => v.derived?.plaintext !== undefined);

  it('has the vectors it needs (a missing file would pass everything)', () => {
    expect(sealed.map((v) => v.id)).toEqual([
      'official-mp-python-sample-decrypt',
      'miaoxing-unauthorized-unknown-appid',
      'easywechat-encryptor-decrypt',
      'wechatpy-wecom-check-signature-echostr',
    ]);
  });

  it.each(sealed.map((v) => [v.id, v] as const))(
    're-creates %s byte for byte (Encrypt and msg_signature)',
    (_id, v) => {
      const derived = v.derived as Required<NonNullable<Vector['derived']>>;
      const sealer = new WechatSealer({
        token: v.token,
        encodingAesKey: v.encoding_aes_key as string,
        componentAppId: derived.trailing_receive_id,
      });
      const result = sealer.seal(derived.plaintext, {
        timestamp: v.timestamp,
        nonce: v.nonce,
        random: Buffer.from(derived.random_prefix_hex, 'hex'),
      });
      expect(result.encrypt).toBe(v.encrypt);
      expect(result.msgSignature).toBe(v.msg_signature);
    }
  );

  it('re-creates the fixed-random encryption vector', () => {
    const v = vectors.find((x) => x.kind === 'encrypt') as Vector;
    const sealer = new WechatSealer({
      token: v.token,
      encodingAesKey: v.encoding_aes_key as string,
      componentAppId: v.appid as string,
    });
    const result = sealer.seal(v.plaintext as string, {
      timestamp: v.timestamp,
      nonce: v.nonce,
      random: Buffer.from(v.random_prefix as string, 'utf8'),
    });
    expect(result.encrypt).toBe(v.expected_encrypt);
    expect(result.msgSignature).toBe(v.expected_msg_signature);
  });

  it('computes the plain signature vector and rejects its negative case', () => {
    const v = vectors.find((x) => x.kind === 'signature_plain') as Vector;
    const signature = wechatSignature([v.token, v.timestamp, v.nonce]);
    expect(signature).toBe(v.expected_signature);
    expect(signature).not.toBe(v.negative_cases?.[0]?.signature);
  });

  it('refuses an unusable token or EncodingAESKey', () => {
    const config = { token: TOKEN, encodingAesKey: KEY, componentAppId: COMPONENT_APPID };
    expect(() => new WechatSealer({ ...config, token: '' })).toThrow(ConfigError);
    expect(() => new WechatSealer({ ...config, encodingAesKey: `${KEY.slice(1)}!` })).toThrow(
      ConfigError
    );
  });
});

describe('the simulator crypto and the service MsgCrypto agree', () => {
  const sealer = new WechatSealer({
    token: TOKEN,
    encodingAesKey: KEY,
    componentAppId: COMPONENT_APPID,
  });
  const service = new MsgCrypto({ token: TOKEN, encodingAesKey: KEY, appId: COMPONENT_APPID });

  it('MsgCrypto opens every padding length (1..32) and multi-byte UTF-8', () => {
    const pads = new Set<number>();
    for (let n = 0; n < 32; n++) {
      const plaintext = `<xml>模拟${'x'.repeat(n)}</xml>`;
      const sealed = sealer.seal(plaintext, { timestamp: '1700000000' });
      const bytes = 16 + 4 + Buffer.byteLength(plaintext) + COMPONENT_APPID.length;
      pads.add(32 - (bytes % 32));
      expect(
        service.decrypt({
          msgSignature: sealed.msgSignature,
          timestamp: sealed.timestamp,
          nonce: sealed.nonce,
          encrypt: sealed.encrypt,
        })
      ).toBe(plaintext);
      expect(service.verifySignature(sealed)).toBe(true);
    }
    expect(pads.size).toBe(32);
  });

  it('a push from the simulator decrypts with MsgCrypto to exactly the recorded payload', async () => {
    await f.sim.pushTicket();
    expect(decrypt(f.received[0] as Received)).toBe(f.sim.pushes[0]?.xml);
  });

  it('no simulator module imports the service crypto (a shared bug could not cancel out)', () => {
    const folder = resolve(dirname(fileURLToPath(import.meta.url)), '../../../local/simulator');
    const offenders = readdirSync(folder).filter((file) =>
      /from '[^']*shared\/crypto\//.test(readFileSync(join(folder, file), 'utf8'))
    );
    expect(readdirSync(folder)).toContain('crypto.ts');
    expect(offenders).toEqual([]);
  });
});
