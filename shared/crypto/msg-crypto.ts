import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import {
  AppIdMismatchError,
  ConfigError,
  MalformedMessageError,
  SignatureMismatchError,
} from '../errors';

/**
 * WeChat's message crypto (WXBizMsgCrypt, 消息加解密) for the third-party platform's event URL:
 * SHA-1 signatures over sorted parts, AES-256-CBC with IV = key[0..16], PKCS#7 padding to 32-byte blocks,
 * and a trailing receive id that must equal our component appid.
 *
 * Pure `node:crypto`. Errors never carry the key, the token or any plaintext.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Message_encryption_and_decryption.html
 */

/** PKCS#7 block size of the scheme: 32, not AES's 16 (pad values 17..32 occur in real pushes). */
const PAD_BLOCK = 32;
const RANDOM_BYTES = 16;
const LENGTH_BYTES = 4;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ENCODING_AES_KEY = /^[A-Za-z0-9]{43}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Hex SHA-1 of the lexicographically sorted, concatenated parts. With (token, timestamp, nonce) it is the
 * plain `signature`; with `Encrypt` added it is `msg_signature`.
 */
export function sha1Signature(...parts: string[]): string {
  return createHash('sha1').update(parts.slice().sort().join('')).digest('hex');
}

function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

function aesKeyFrom(encodingAesKey: string, label: string): Buffer {
  if (!ENCODING_AES_KEY.test(encodingAesKey)) {
    throw new ConfigError([`${label} must be 43 characters of [A-Za-z0-9]`]);
  }
  return Buffer.from(`${encodingAesKey}=`, 'base64');
}

type Unwrapped = { ok: true; plaintext: string } | { ok: false; error: Error };

/** Message signature, encryption and decryption for one (token, EncodingAESKey, appid). */
export class MsgCrypto {
  readonly #token: string;
  readonly #appId: string;
  readonly #keys: readonly Buffer[];

  constructor(config: {
    token: string;
    encodingAesKey: string;
    appId: string;
    previousEncodingAesKey?: string;
  }) {
    if (!config.token) throw new ConfigError(['token must not be empty']);
    if (!config.appId) throw new ConfigError(['appId must not be empty']);
    this.#token = config.token;
    this.#appId = config.appId;
    const current = aesKeyFrom(config.encodingAesKey, 'encodingAesKey');
    this.#keys = config.previousEncodingAesKey
      ? [current, aesKeyFrom(config.previousEncodingAesKey, 'previousEncodingAesKey')]
      : [current];
  }

  /** Checks the plain `signature` (sha1 of token, timestamp, nonce) in constant time. */
  verifySignature(input: { signature: string; timestamp: string; nonce: string }): boolean {
    return constantTimeEquals(
      sha1Signature(this.#token, input.timestamp, input.nonce),
      input.signature.toLowerCase()
    );
  }

  /**
   * Verifies `msg_signature` (constant time), decrypts, checks the receive id; returns the plaintext.
   * During an EncodingAESKey change the previous key is tried when the current one does not fit.
   *
   * @throws SignatureMismatchError when the signature does not match.
   * @throws MalformedMessageError on bad base64, length, padding, length prefix or UTF-8.
   * @throws AppIdMismatchError when the message was encrypted for another appid.
   */
  decrypt(input: {
    msgSignature: string;
    timestamp: string;
    nonce: string;
    encrypt: string;
  }): string {
    const expected = sha1Signature(this.#token, input.timestamp, input.nonce, input.encrypt);
    if (!constantTimeEquals(expected, input.msgSignature.toLowerCase())) {
      throw new SignatureMismatchError('msg_signature does not match the message');
    }
    if (input.encrypt.length % 4 !== 0 || !BASE64.test(input.encrypt)) {
      throw new MalformedMessageError('Encrypt is not valid base64');
    }
    const cipherText = Buffer.from(input.encrypt, 'base64');
    if (cipherText.length === 0 || cipherText.length % PAD_BLOCK !== 0) {
      throw new MalformedMessageError('Encrypt has a length that is not a whole number of blocks');
    }
    let firstError: Error | undefined;
    for (const key of this.#keys) {
      const result = this.#unwrap(key, cipherText);
      if (result.ok) return result.plaintext;
      firstError ??= result.error;
    }
    throw firstError as Error;
  }

  /** Encrypts a reply; random (16 bytes) is injectable for tests. */
  encrypt(
    plaintext: string,
    options: { random?: Buffer; timestamp?: string; nonce?: string } = {}
  ): { encrypt: string; msgSignature: string; timestamp: string; nonce: string } {
    const random = options.random ?? randomBytes(RANDOM_BYTES);
    if (random.length !== RANDOM_BYTES) {
      throw new RangeError(`random must be ${RANDOM_BYTES} bytes`);
    }
    const message = Buffer.from(plaintext, 'utf8');
    const length = Buffer.alloc(LENGTH_BYTES);
    length.writeUInt32BE(message.length, 0);
    const body = Buffer.concat([random, length, message, Buffer.from(this.#appId, 'utf8')]);
    const pad = PAD_BLOCK - (body.length % PAD_BLOCK);
    const padded = Buffer.concat([body, Buffer.alloc(pad, pad)]);
    const key = this.#keys[0] as Buffer;
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const encrypt = Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
    const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
    const nonce = options.nonce ?? String(randomBytes(4).readUInt32BE(0));
    return {
      encrypt,
      msgSignature: sha1Signature(this.#token, timestamp, nonce, encrypt),
      timestamp,
      nonce,
    };
  }

  #unwrap(key: Buffer, cipherText: Buffer): Unwrapped {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(
      false
    );
    const padded = Buffer.concat([decipher.update(cipherText), decipher.final()]);
    const pad = padded[padded.length - 1] as number;
    if (
      pad < 1 ||
      pad > PAD_BLOCK ||
      !padded.subarray(padded.length - pad).every((b) => b === pad)
    ) {
      return { ok: false, error: new MalformedMessageError('Encrypt has invalid padding') };
    }
    const full = padded.subarray(0, padded.length - pad);
    if (full.length < RANDOM_BYTES + LENGTH_BYTES) {
      return { ok: false, error: new MalformedMessageError('Encrypt is too short') };
    }
    const length = full.readUInt32BE(RANDOM_BYTES);
    const start = RANDOM_BYTES + LENGTH_BYTES;
    if (length > full.length - start) {
      return {
        ok: false,
        error: new MalformedMessageError('Encrypt has an invalid length prefix'),
      };
    }
    const receiveId = full.subarray(start + length).toString('utf8');
    if (!constantTimeEquals(receiveId, this.#appId)) {
      return {
        ok: false,
        error: new AppIdMismatchError('message was encrypted for another appid'),
      };
    }
    try {
      return { ok: true, plaintext: utf8.decode(full.subarray(start, start + length)) };
    } catch {
      return { ok: false, error: new MalformedMessageError('message is not valid UTF-8') };
    }
  }
}
