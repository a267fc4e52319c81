import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handleAuthEvent } from '../shared/authorization/handle-auth-event';
import { MetricName } from '../shared/log';
import { PUSH_ANSWER_WITHIN_MS } from '../shared/policy';
import { MAX_EVENT_BODY_BYTES, parseAuthEvent, parseEnvelope } from '../shared/wechat/callback-xml';
import { checkContentType, decryptPush, readCallbackQuery } from './lib/callback-query';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { http, readBody, text } from './lib/http';
import { inLambda } from './lib/invoked';

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
    const plaintext = decryptPush(await d.msgCrypto(), query, envelope.encrypt);
    const outcome = await handleAuthEvent(d, parseAuthEvent(plaintext, d.componentAppId));
    d.log.debug('authorization event handled', { outcome });
    return text(200, 'success');
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), {
    format: 'text',
    route: 'POST /wechat/events',
    rejectedMetric: MetricName.CallbackRejected,
  });

export const handler = inLambda(makeHandler(getDeps));
