import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt } from 'node:crypto';
import { ConfigError } from '../../shared/errors';

/**
 * WeChat's side of WXBizMsgCrypt (消息加解密): how WeChat seals a push to the authorization event URL or the
 * message URL, and opens a passive reply (§5.5).
 * Written from the specification on purpose, without `shared/crypto/msg-crypto.ts`: the service decrypts
 * with that module, so if both sides shared code a bug in it would cancel out and every test would pass.
 * Tested against the public vectors in `crypto-vectors.json`.
 *
 * FullStr = random(16) ‖ uint32be(byte length of msg) ‖ msg ‖ receive id (component appid), padded PKCS#7 to
 * a multiple of 32 bytes, AES-256-CBC with key = base64(EncodingAESKey + "=") and IV = key[0..16].
 *
 * @see ../../docs/wechat-protocol.md §5
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Message_encryption_and_decryption.html
 */

/** What WeChat puts on the push: the envelope's `Encrypt` and the query string's parts. */
export interface SealedMessage {
  encrypt: string;
  /** sha1 of sorted (token, timestamp, nonce, Encrypt). */
  msgSignature: string;
  /** sha1 of sorted (token, timestamp, nonce). */
  signature: string;
  timestamp: string;
  nonce: string;
}

/** What an `Encrypt` value held: the message and the receive id after it. */
export interface Unsealed {
  plaintext: string;
  receiveId: string;
}

/** An `Encrypt` value that does not open: bad base64, length, padding or length prefix. */
export class UnsealError extends Error {
  override readonly name = 'UnsealError';
}

/** PKCS#7 block of the scheme (not AES's 16): pad values run 1..32. */
const BLOCK = 32;
const PREFIX_BYTES = 16;
const LENGTH_BYTES = 4;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Hex sha1 over the parts sorted as strings and joined without a separator (§5.2). */
export function wechatSignature(parts: readonly string[]): string {
  const joined = [...parts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join('');
  return createHash('sha1').update(joined, 'utf8').digest('hex');
}

function pkcs7(data: Buffer): Buffer {
  const pad = BLOCK - (data.length % BLOCK);
  return Buffer.concat([data, Buffer.alloc(pad, pad)]);
}

/** Seals plaintexts the way WeChat does for one platform (message token, EncodingAESKey, component appid). */
export class WechatSealer {
  readonly #token: string;
  readonly #key: Buffer;
  readonly #receiveId: Buffer;

  /** @throws ConfigError when the token is empty or the key is not 43 letters and digits. */
  constructor(config: { token: string; encodingAesKey: string; componentAppId: string }) {
    const problems: string[] = [];
    if (!config.token) problems.push('simulator token must not be empty');
    if (!/^[0-9A-Za-z]{43}$/.test(config.encodingAesKey)) {
      problems.push('simulator encodingAesKey must be 43 characters of [A-Za-z0-9]');
    }
    if (problems.length > 0) throw new ConfigError(problems);
    this.#token = config.token;
    this.#key = Buffer.from(`${config.encodingAesKey}=`, 'base64');
    this.#receiveId = Buffer.from(config.componentAppId, 'utf8');
  }

  /** Encrypts and signs `plaintext`; `random`, `timestamp` and `nonce` are injectable for the vectors. */
  seal(
    plaintext: string,
    options: { timestamp: string; nonce?: string; random?: Buffer }
  ): SealedMessage {
    const random = options.random ?? randomBytes(PREFIX_BYTES);
    if (random.length !== PREFIX_BYTES) throw new RangeError('random must be 16 bytes');
    const message = Buffer.from(plaintext, 'utf8');
    const length = Buffer.alloc(LENGTH_BYTES);
    length.writeUInt32BE(message.length);
    const full = pkcs7(Buffer.concat([random, length, message, this.#receiveId]));
    const cipher = createCipheriv('aes-256-cbc', this.#key, this.#key.subarray(0, 16));
    cipher.setAutoPadding(false);
    const encrypt = Buffer.concat([cipher.update(full), cipher.final()]).toString('base64');
    const { timestamp } = options;
    const nonce = options.nonce ?? String(randomInt(1, 2 ** 31));
    return {
      encrypt,
      msgSignature: wechatSignature([this.#token, timestamp, nonce, encrypt]),
      signature: wechatSignature([this.#token, timestamp, nonce]),
      timestamp,
      nonce,
    };
  }

  /** sha1 of the token and `parts`, sorted (§5.2): what a reply's `MsgSignature` must be. */
  signature(...parts: string[]): string {
    return wechatSignature([this.#token, ...parts]);
  }

  /**
   * Opens an `Encrypt` value (a passive reply's): base64, AES-256-CBC without automatic padding, PKCS#7
   * to 32 bytes checked byte by byte, then random(16) ‖ length ‖ message ‖ receive id. The receive id is
   * returned, not judged: the caller says whose it should be.
   *
   * @throws UnsealError when any layer is malformed.
   */
  unseal(encrypt: string): Unsealed {
    if (encrypt === '' || !BASE64.test(encrypt)) throw new UnsealError('Encrypt is not base64');
    const data = Buffer.from(encrypt, 'base64');
    if (data.length % BLOCK !== 0) {
      throw new UnsealError(`Encrypt is ${data.length} bytes, not a multiple of ${BLOCK}`);
    }
    const decipher = createDecipheriv('aes-256-cbc', this.#key, this.#key.subarray(0, 16));
    decipher.setAutoPadding(false);
    const full = Buffer.concat([decipher.update(data), decipher.final()]);
    const pad = full.at(-1) ?? 0;
    if (pad < 1 || pad > BLOCK || full.subarray(full.length - pad).some((byte) => byte !== pad)) {
      throw new UnsealError('Encrypt has no valid PKCS#7 padding (wrong EncodingAESKey?)');
    }
    const body = full.subarray(0, full.length - pad);
    if (body.length < PREFIX_BYTES + LENGTH_BYTES) throw new UnsealError('Encrypt is too short');
    const length = body.readUInt32BE(PREFIX_BYTES);
    const start = PREFIX_BYTES + LENGTH_BYTES;
    if (start + length > body.length) {
      throw new UnsealError('the message length runs past the end of Encrypt');
    }
    try {
      return {
        plaintext: utf8.decode(body.subarray(start, start + length)),
        receiveId: utf8.decode(body.subarray(start + length)),
      };
    } catch {
      throw new UnsealError('the message or the receive id is not UTF-8');
    }
  }
}
