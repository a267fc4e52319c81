import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handleAuthEvent } from '../shared/authorization/handle-auth-event';
import { InvalidRequestError, SignatureMismatchError } from '../shared/errors';
import { PUSH_ANSWER_WITHIN_MS } from '../shared/policy';
import { MAX_EVENT_BODY_BYTES, parseAuthEvent, parseEnvelope } from '../shared/wechat/callback-xml';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { header, http, readBody, text } from './lib/http';
import { inLambda } from './lib/invoked';

const TIMESTAMP = /^\d{1,12}$/;
const NONCE = /^[A-Za-z0-9_-]{1,64}$/;
const SHA1_HEX = /^[0-9a-fA-F]{40}$/;

function readCallbackQuery(event: APIGatewayProxyEventV2) {
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

function checkContentType(event: APIGatewayProxyEventV2) {
  const type = header(event, 'content-type')?.toLowerCase();
  if (type && !/xml|text\/plain/.test(type)) {
    throw new InvalidRequestError('content-type must be XML');
  }
}

/**
 * `POST /wechat/events`, the authorization-event URL (授权事件接收URL): verifies the signatures (constant
 * time), decrypts, checks the appid, acts on the event, and answers exactly `success` as WeChat requires.
 * Anything malformed or forged gets a 4xx and changes nothing. Every WeChat call it makes (an authorization
 * push's exchange) ends within WeChat's 5 s; an exchange cut short stays stored and pending for the schedule.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Message_encryption_and_decryption.html
 */
export const createHandler =
  (deps: GetDeps) => async (event: APIGatewayProxyEventV2, context?: InvocationContext) => {
    const query = readCallbackQuery(event);
    checkContentType(event);
    const d = forInvocation(await deps(), workBudget(context, PUSH_ANSWER_WITHIN_MS));
    const envelope = parseEnvelope(readBody(event, MAX_EVENT_BODY_BYTES), d.componentAppId);
    const crypto = await d.msgCrypto();
    if (
      query.signature !== undefined &&
      !crypto.verifySignature({ ...query, signature: query.signature })
    ) {
      throw new SignatureMismatchError('signature does not match');
    }
    const plaintext = crypto.decrypt({ ...query, encrypt: envelope.encrypt });
    const outcome = await handleAuthEvent(d, parseAuthEvent(plaintext, d.componentAppId));
    d.log.debug('authorization event handled', { outcome });
    return text(200, 'success');
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), { format: 'text', route: 'POST /wechat/events' });

export const handler = inLambda(makeHandler(getDeps));
