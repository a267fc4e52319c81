import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { isAppId } from '../shared/config';
import { InvalidRequestError } from '../shared/errors';
import { MetricName } from '../shared/log';
import { handleWechatMessage, type MessageIntake } from '../shared/messages/handle-message';
import { KnownAuthorizers } from '../shared/messages/known-authorizers';
import { encryptedTextReply } from '../shared/messages/passive-reply';
import {
  MAX_MESSAGE_BODY_BYTES,
  parseMessageEnvelope,
  readWechatMessage,
} from '../shared/messages/read-wechat-message';
import { RecentPushes } from '../shared/messages/recent-pushes';
import { PUSH_ANSWER_WITHIN_MS } from '../shared/policy';
import { checkContentType, decryptPush, readCallbackQuery } from './lib/callback-query';
import { forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type Deps, type GetDeps, getDeps } from './lib/deps';
import { http, readBody, text } from './lib/http';
import { inLambda } from './lib/invoked';

export const MESSAGE_ROUTE = 'POST /wechat/messages/{appid}';

/** The intake's per-container memory, built once for the container's `Deps`. */
const intakes = new WeakMap<Deps, MessageIntake>();

function intakeOf(d: Deps): MessageIntake {
  let intake = intakes.get(d);
  if (!intake) {
    intake = {
      known: new KnownAuthorizers(d.store, d.componentAppId),
      recent: new RecentPushes(),
      startReleaseCheckReply: (job) => d.startReleaseCheckReply(job),
    };
    intakes.set(d, intake);
  }
  return intake;
}

function authorizerAppIdOf(event: APIGatewayProxyEventV2): string {
  const appId = event.pathParameters?.appid;
  if (!isAppId(appId)) {
    throw new InvalidRequestError(
      'the URL must end with the authorizer appid (…/wechat/messages/wx…)'
    );
  }
  return appId;
}

/**
 * `POST /wechat/messages/{appid}`, the message-and-event URL (消息与事件接收URL, `…/wechat/messages/$APPID$`
 * in the console): verifies the signatures, decrypts with the platform's key, parses with the
 * authorization events' limits, and puts the message or event on the bus before answering `success` within
 * WeChat's 5 s (a publish that fails answers 503, so WeChat delivers it again). An appid that is not an
 * authorizer is acknowledged and counted, never published; anything forged or malformed gets a 4xx. WeChat's
 * release-check accounts get the passive replies the check expects, encrypted like WeChat's own; no other
 * account gets an automatic reply.
 *
 * @see ../docs/wechat-protocol.md §13
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Message_encryption_and_decryption.html
 */
export const createHandler =
  (deps: GetDeps) => async (event: APIGatewayProxyEventV2, context?: InvocationContext) => {
    const authorizerAppId = authorizerAppIdOf(event);
    const query = readCallbackQuery(event);
    checkContentType(event);
    const base = await deps();
    const d = forInvocation(base, workBudget(context, PUSH_ANSWER_WITHIN_MS));
    const envelope = parseMessageEnvelope(readBody(event, MAX_MESSAGE_BODY_BYTES));
    const crypto = await d.msgCrypto();
    const message = readWechatMessage(decryptPush(crypto, query, envelope.encrypt));
    d.metrics.count(MetricName.MessageReceived);
    const { outcome, answer } = await handleWechatMessage(
      d,
      intakeOf(base),
      authorizerAppId,
      message
    );
    d.log.debug('message handled', { outcome, msgType: message.MsgType, event: message.Event });
    if (answer.kind === 'success') return text(200, 'success');
    if (answer.kind === 'empty') return text(200, '');
    const reply = encryptedTextReply(crypto, {
      toUser: message.FromUserName,
      fromUser: message.ToUserName,
      content: answer.content,
      createTime: d.clock(),
    });
    return text(200, reply, { 'content-type': 'application/xml; charset=utf-8' });
  };

/** The handler wrapped with the HTTP error path, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) =>
  http(deps, createHandler(deps), {
    format: 'text',
    route: MESSAGE_ROUTE,
    rejectedMetric: MetricName.MessageRefused,
  });

export const handler = inLambda(makeHandler(getDeps));
