import { createCipheriv, createHash } from 'node:crypto';
import { sha1Signature } from '../../shared/crypto/msg-crypto';
import { SECRET } from './harness';
import { COMPONENT_APPID } from './test-ids';

/** Builders for hand-made authorization-event pushes: exact bytes, exact padding, proper signatures. */

export const AES_KEY = Buffer.from(`${SECRET.encodingAesKey}=`, 'base64');
export const FIXED_RANDOM = Buffer.from('0123456789abcdef', 'utf8');
export const TIMESTAMP = '1700000000';
export const NONCE = '1234567890';

/** AES-256-CBC without padding, key = base64(EncodingAESKey + '='), iv = key[0..16]. */
export function rawEncrypt(bytes: Buffer, key: Buffer = AES_KEY): Buffer {
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(bytes), cipher.final()]);
}

/** random(16) + big-endian length(4) + message + receive id, unpadded. */
export function frame(
  message: string | Buffer,
  options: { receiveId?: string; random?: Buffer; declaredLength?: number } = {}
): Buffer {
  const body = Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(options.declaredLength ?? body.length, 0);
  return Buffer.concat([
    options.random ?? FIXED_RANDOM,
    length,
    body,
    Buffer.from(options.receiveId ?? COMPONENT_APPID, 'utf8'),
  ]);
}

/** The number of pad bytes WeChat's 32-byte PKCS#7 would add to `length` bytes (1..32). */
export const padLength = (length: number) => 32 - (length % 32);

/** Pads `unpadded` to a multiple of 32 with the bytes `fill(index, count)` returns. */
export function padWith(unpadded: Buffer, fill: (index: number, count: number) => number): Buffer {
  const count = padLength(unpadded.length);
  const pad = Buffer.alloc(count);
  for (let i = 0; i < count; i++) pad[i] = fill(i, count);
  return Buffer.concat([unpadded, pad]);
}

export const pkcs7 = (unpadded: Buffer) => padWith(unpadded, (_i, count) => count);

/** A payload as WeChat writes it: strings in CDATA, numbers bare. */
export function payloadXml(fields: readonly (readonly [string, string | number])[]): string {
  const inner = fields
    .map(([name, value]) =>
      typeof value === 'number'
        ? `<${name}>${value}</${name}>`
        : `<${name}><![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]></${name}>`
    )
    .join('');
  return `<xml>${inner}</xml>`;
}

export function envelopeXml(encrypt: string, appId: string | null = COMPONENT_APPID): string {
  const id = appId === null ? '' : `<AppId><![CDATA[${appId}]]></AppId>`;
  return `<xml>${id}<Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
}

/** The query WeChat sends with a push whose Encrypt is `encrypt`, signed with our token. */
export function signedQuery(
  encrypt: string,
  options: { timestamp?: string; nonce?: string; token?: string } = {}
): Record<string, string> {
  const timestamp = options.timestamp ?? TIMESTAMP;
  const nonce = options.nonce ?? NONCE;
  const token = options.token ?? SECRET.token;
  return {
    signature: sha1Signature(token, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: sha1Signature(token, timestamp, nonce, encrypt),
  };
}

/** A well-formed, properly encrypted and signed push of `xml`. */
export function sealedPush(xml: string, options: { receiveId?: string } = {}) {
  const encrypt = rawEncrypt(pkcs7(frame(xml, options))).toString('base64');
  return { encrypt, query: signedQuery(encrypt), body: envelopeXml(encrypt) };
}

/** A 40-hex-digit value that is a plausible but wrong signature. */
export const forgedSignature = (seed: string) => createHash('sha1').update(seed).digest('hex');

/** `?a=1&a=2` style query strings that keep repeated names (URLSearchParams from pairs). */
export function queryString(query: Record<string, string> | [string, string][]): string {
  return new URLSearchParams(Array.isArray(query) ? query : Object.entries(query)).toString();
}
