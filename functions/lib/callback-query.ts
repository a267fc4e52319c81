import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { MsgCrypto } from '../../shared/crypto/msg-crypto';
import { InvalidRequestError, SignatureMismatchError } from '../../shared/errors';
import { header } from './http';

const TIMESTAMP = /^\d{1,12}$/;
const NONCE = /^[A-Za-z0-9_-]{1,64}$/;
const SHA1_HEX = /^[0-9a-fA-F]{40}$/;

/**
 * The query WeChat signs its pushes with (both URLs): `timestamp`, `nonce`, `msg_signature`, and the plain
 * `signature` when present, each checked for shape before any crypto; only `encrypt_type=aes` is accepted.
 *
 * @throws InvalidRequestError naming the parameter that is missing or malformed.
 * @see ../../docs/wechat-protocol.md §4.1
 */
export function readCallbackQuery(event: APIGatewayProxyEventV2) {
  const query = event.queryStringParameters ?? {};
  const { timestamp, nonce, msg_signature: msgSignature, encrypt_type: encryptType } = query;
  const missing = ['timestamp', 'nonce', 'msg_signature'].filter((name) => !query[name]);
  if (missing.length)
    throw new InvalidRequestError(`missing query parameter ${missing.join(', ')}`);
  if (!TIMESTAMP.test(timestamp as string)) throw new InvalidRequestError('timestamp is malformed');
  if (!NONCE.test(nonce as string)) throw new InvalidRequestError('nonce is malformed');
  if (!SHA1_HEX.test(msgSignature as string)) {
    throw new InvalidRequestError('msg_signature is malformed');
  }
  if (encryptType !== undefined && encryptType !== 'aes') {
    throw new InvalidRequestError('encrypt_type must be aes (plaintext mode is not accepted)');
  }
  const signature = query.signature;
  if (signature !== undefined && !SHA1_HEX.test(signature)) {
    throw new InvalidRequestError('signature is malformed');
  }
  return {
    timestamp: timestamp as string,
    nonce: nonce as string,
    msgSignature: msgSignature as string,
    signature,
  };
}

/** WeChat posts XML; any other declared content type is refused. */
export function checkContentType(event: APIGatewayProxyEventV2) {
  const type = header(event, 'content-type')?.toLowerCase();
  if (type && !/xml|text\/plain/.test(type)) {
    throw new InvalidRequestError('content-type must be XML');
  }
}

/**
 * The push's plaintext: the plain `signature` checked when WeChat sent one, then `msg_signature` and the
 * decryption (constant-time comparisons, receive id = the component appid: `MsgCrypto`).
 *
 * @throws SignatureMismatchError, MalformedMessageError, AppIdMismatchError.
 */
export function decryptPush(
  crypto: MsgCrypto,
  query: ReturnType<typeof readCallbackQuery>,
  encrypt: string
): string {
  if (
    query.signature !== undefined &&
    !crypto.verifySignature({ ...query, signature: query.signature })
  ) {
    throw new SignatureMismatchError('signature does not match');
  }
  return crypto.decrypt({ ...query, encrypt });
}
