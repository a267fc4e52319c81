import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MsgCrypto, sha1Signature } from '../../../../shared/crypto/msg-crypto';
import {
  AppIdMismatchError,
  ConfigError,
  MalformedMessageError,
  SignatureMismatchError,
} from '../../../../shared/errors';
import rawVectors from '../../../fixtures/crypto-vectors.json';
import { OTHER_COMPONENT_APPID } from '../../../support/test-ids';

type Vector = Record<string, string> & {
  derived: Record<string, string>;
  expected_fields: Record<string, string>;
  negative_cases: Record<string, string>[];
};
const vectors = rawVectors as unknown as Vector[];
const byKind = (kind: string) => vectors.filter((v) => v.kind === kind);
const str = (v: unknown) => v as string;

const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const OTHER_KEY = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR';
const APPID = 'wx9eeba14a01d3807f';

/** Encrypts raw bytes (already padded) with the scheme's key and IV, to build hostile ciphertexts. */
function rawEncrypt(padded: Buffer, encodingAesKey = KEY): string {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([c.update(padded), c.final()]).toString('base64');
}

function signed(crypto: { token: string }, encrypt: string, timestamp = '1', nonce = '2') {
  return {
    encrypt,
    timestamp,
    nonce,
    msgSignature: sha1Signature(crypto.token, timestamp, nonce, encrypt),
  };
}

describe('sha1Signature', () => {
  it.each(byKind('signature_plain'))('matches the plain signature vector $id', (v) => {
    expect(sha1Signature(str(v.token), str(v.timestamp), str(v.nonce))).toBe(v.expected_signature);
  });

  it('matches the derived plain signature of the official sample', () => {
    const v = vectors.find((x) => x.id === 'official-mp-python-sample-decrypt')!;
    const derived = v.derived;
    expect(sha1Signature(str(v.token), str(v.timestamp), str(v.nonce))).toBe(
      derived.signature_plain_sha1_sort_token_timestamp_nonce
    );
  });
});

describe('MsgCrypto.decrypt', () => {
  it.each(byKind('decrypt'))('decrypts vector $id to the expected plaintext', (v) => {
    const crypto = new MsgCrypto({
      token: str(v.token),
      encodingAesKey: str(v.encoding_aes_key),
      appId: str(v.appid),
    });
    const plaintext = crypto.decrypt({
      msgSignature: str(v.msg_signature),
      timestamp: str(v.timestamp),
      nonce: str(v.nonce),
      encrypt: str(v.encrypt),
    });
    expect(plaintext).toBe(v.derived.plaintext);
    for (const [field, value] of Object.entries(v.expected_fields)) {
      expect(plaintext).toContain(value);
      expect(plaintext).toContain(field);
    }
  });

  it.each(byKind('verify_url'))('decrypts the echostr of vector $id', (v) => {
    const crypto = new MsgCrypto({
      token: str(v.token),
      encodingAesKey: str(v.encoding_aes_key),
      appId: str(v.appid),
    });
    const input = {
      msgSignature: str(v.msg_signature),
      timestamp: str(v.timestamp),
      nonce: str(v.nonce),
      encrypt: str(v.encrypt),
    };
    expect(crypto.decrypt(input)).toBe(v.derived.plaintext);
    for (const negative of v.negative_cases) {
      expect(() => crypto.decrypt({ ...input, nonce: str(negative.nonce) })).toThrow(
        SignatureMismatchError
      );
    }
  });

  it('rejects the easywechat negative cases: forged signature and another appid', () => {
    const v = vectors.find((x) => x.id === 'easywechat-encryptor-decrypt')!;
    const input = {
      msgSignature: str(v.msg_signature),
      timestamp: str(v.timestamp),
      nonce: str(v.nonce),
      encrypt: str(v.encrypt),
    };
    const good = new MsgCrypto({
      token: str(v.token),
      encodingAesKey: str(v.encoding_aes_key),
      appId: str(v.appid),
    });
    expect(() => good.decrypt({ ...input, msgSignature: 'invalid-signature' })).toThrow(
      SignatureMismatchError
    );
    const wrongAppId = new MsgCrypto({
      token: str(v.token),
      encodingAesKey: str(v.encoding_aes_key),
      appId: 'invalid appid',
    });
    expect(() => wrongAppId.decrypt(input)).toThrow(AppIdMismatchError);
  });

  it('accepts an upper-case msg_signature', () => {
    const crypto = new MsgCrypto({ token: 't', encodingAesKey: KEY, appId: APPID });
    const sealed = crypto.encrypt('<xml/>');
    expect(crypto.decrypt({ ...sealed, msgSignature: sealed.msgSignature.toUpperCase() })).toBe(
      '<xml/>'
    );
  });

  it('rejects a ciphertext whose length is not a whole number of 32-byte blocks', () => {
    const crypto = new MsgCrypto({ token: 't', encodingAesKey: KEY, appId: APPID });
    const truncated = Buffer.from(crypto.encrypt('hello').encrypt, 'base64')
      .subarray(0, 48)
      .toString('base64');
    expect(() => crypto.decrypt(signed({ token: 't' }, truncated))).toThrow(MalformedMessageError);
  });

  it.each(['not base64!', 'abc', '', '===='])('rejects non-base64 Encrypt %j', (encrypt) => {
    const crypto = new MsgCrypto({ token: 't', encodingAesKey: KEY, appId: APPID });
    expect(() => crypto.decrypt(signed({ token: 't' }, encrypt))).toThrow(MalformedMessageError);
  });

  const body = Buffer.concat([randomBytes(16), Buffer.from([0, 0, 0, 2]), Buffer.from('hi')]);
  const withAppId = Buffer.concat([body, Buffer.from(APPID)]); // 40 bytes: pad 24 to 64
  it.each([0, 33, 255])('rejects pad value %i outside 1..32', (padValue) => {
    const crypto = new MsgCrypto({ token: 't', encodingAesKey: KEY, appId: APPID });
    const padded = Buffer.concat([withAppId, Buffer.alloc(23, 24), Buffer.from([padValue])]);
    expect(() => crypto.decrypt(signed({ token: 't' }, rawEncrypt(padded)))).toThrow(
      MalformedMessageError
    );
  });

  it('rejects padding whose bytes are not all the pad value', () => {
    const crypto = new MsgCrypto({ token: 't', encodingAesKey: KEY, appId: APPID });
    const padded = Buffer.concat([withAppId, Buffer.alloc(22, 24), Buffer.from([23, 24])]);
    expect(() => crypto.decrypt(signed({ token: 't' }, rawEncrypt(padded)))).toThrow(
      MalformedMessageError
    );
  });

  it('rejects a length prefix longer than the message', () => {
    const crypto = new MsgCrypto({ token: 't', encodingAesKey: KEY, appId: APPID });
    const lying = Buffer.concat([randomBytes(16), Buffer.from([0, 0, 1, 0]), Buffer.from('hi')]);
    const padded = Buffer.concat([lying, Buffer.alloc(10, 10)]);
    expect(() => crypto.decrypt(signed({ token: 't' }, rawEncrypt(padded)))).toThrow(
      MalformedMessageError
    );
  });

  it('falls back to the previous EncodingAESKey during a key change', () => {
    const old = new MsgCrypto({ token: 't', encodingAesKey: OTHER_KEY, appId: APPID });
    const rotated = new MsgCrypto({
      token: 't',
      encodingAesKey: KEY,
      previousEncodingAesKey: OTHER_KEY,
      appId: APPID,
    });
    expect(rotated.decrypt(old.encrypt('<xml>old key</xml>'))).toBe('<xml>old key</xml>');
    expect(rotated.decrypt(rotated.encrypt('<xml>new key</xml>'))).toBe('<xml>new key</xml>');
    const withoutPrevious = new MsgCrypto({ token: 't', encodingAesKey: KEY, appId: APPID });
    expect(() => withoutPrevious.decrypt(old.encrypt('<xml/>'))).toThrow(MalformedMessageError);
  });

  it('never puts the token, key or plaintext into an error message', () => {
    const crypto = new MsgCrypto({ token: 'secret-token', encodingAesKey: KEY, appId: APPID });
    const other = new MsgCrypto({
      token: 'secret-token',
      encodingAesKey: KEY,
      appId: OTHER_COMPONENT_APPID,
    });
    const errors: string[] = [];
    for (const attempt of [
      () => crypto.decrypt({ ...crypto.encrypt('PLAINTEXT'), msgSignature: 'x' }),
      () => crypto.decrypt(other.encrypt('PLAINTEXT')),
      () => new MsgCrypto({ token: 'secret-token', encodingAesKey: 'short', appId: APPID }),
    ]) {
      try {
        attempt();
      } catch (error) {
        errors.push(String(error), JSON.stringify(error));
      }
    }
    expect(errors).toHaveLength(6);
    for (const text of errors) {
      for (const secret of ['secret-token', KEY, 'PLAINTEXT', 'short']) {
        expect(text).not.toContain(secret);
      }
    }
  });
});

describe('MsgCrypto.encrypt', () => {
  it.each(byKind('encrypt'))('reproduces vector $id with its fixed random', (v) => {
    const crypto = new MsgCrypto({
      token: str(v.token),
      encodingAesKey: str(v.encoding_aes_key),
      appId: str(v.appid),
    });
    const sealed = crypto.encrypt(str(v.plaintext), {
      random: Buffer.from(str(v.random_prefix), 'utf8'),
      timestamp: str(v.timestamp),
      nonce: str(v.nonce),
    });
    expect(sealed.encrypt).toBe(v.expected_encrypt);
    expect(sealed.msgSignature).toBe(v.expected_msg_signature);
  });

  it('round-trips every message length across two pad blocks, including pad values 1 and 32', () => {
    const crypto = new MsgCrypto({ token: 'tok', encodingAesKey: KEY, appId: APPID });
    const pads = new Set<number>();
    for (let length = 0; length <= 96; length++) {
      const message = 'x'.repeat(length);
      const sealed = crypto.encrypt(message);
      const cipherBytes = Buffer.from(sealed.encrypt, 'base64').length;
      pads.add(cipherBytes - (16 + 4 + length + APPID.length));
      expect(crypto.decrypt(sealed)).toBe(message);
    }
    expect([...pads].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
  });

  it('counts the length prefix in bytes, so multi-byte UTF-8 round-trips', () => {
    const crypto = new MsgCrypto({ token: 'tok', encodingAesKey: KEY, appId: APPID });
    const message = '<xml><Content>授权成功 ✅ 𠀀</Content></xml>';
    const sealed = crypto.encrypt(message, { random: Buffer.alloc(16, 7) });
    const plain = Buffer.from(sealed.encrypt, 'base64');
    expect(plain.length % 32).toBe(0);
    expect(crypto.decrypt(sealed)).toBe(message);
  });

  it('rejects a random prefix that is not 16 bytes', () => {
    const crypto = new MsgCrypto({ token: 'tok', encodingAesKey: KEY, appId: APPID });
    expect(() => crypto.encrypt('x', { random: Buffer.alloc(15) })).toThrow(RangeError);
  });
});

describe('MsgCrypto configuration', () => {
  it.each([
    { token: '', encodingAesKey: KEY, appId: APPID },
    { token: 't', encodingAesKey: `${KEY}=`, appId: APPID },
    { token: 't', encodingAesKey: KEY.replace('a', '+'), appId: APPID },
    { token: 't', encodingAesKey: KEY, appId: '' },
  ])('refuses an unusable configuration %#', (config) => {
    expect(() => new MsgCrypto(config)).toThrow(ConfigError);
  });

  it('verifies the plain signature', () => {
    const crypto = new MsgCrypto({ token: 'test', encodingAesKey: KEY, appId: APPID });
    const good = { timestamp: '1410685589', nonce: 'test' };
    expect(
      crypto.verifySignature({ ...good, signature: 'f21891de399b4e33a1a93c9a7b8a8fffb5a443ff' })
    ).toBe(true);
    expect(
      crypto.verifySignature({ ...good, signature: 'f21891de399b4e33a1a93c9a7b8a8fffb5a443fe' })
    ).toBe(false);
  });
});
