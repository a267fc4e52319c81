import { MessageUnpublishedError } from '../errors';
import { wechatMessageEvent } from '../events/wechat-message-event';
import { MetricName } from '../log';
import type { TokenContext } from '../token-context';
import type { KnownAuthorizers } from './known-authorizers';
import type { WechatMessage } from './read-wechat-message';
import type { RecentPushes } from './recent-pushes';
import { type ReleaseCheckAnswer, releaseCheckAnswer } from './release-check';

/** The release check's customer-service answer, run after WeChat has its empty answer. */
export interface ReleaseCheckReplyJob {
  job: 'release-check-reply';
  authorizerAppId: string;
  queryAuthCode: string;
  toUser: string;
}

/** What the intake keeps per container, and how it starts work that must outlive the answer. */
export interface MessageIntake {
  known: KnownAuthorizers;
  recent: RecentPushes;
  /** Starts the job elsewhere (the refresh function, invoked asynchronously) and returns at once. */
  startReleaseCheckReply(job: ReleaseCheckReplyJob): Promise<void>;
}

/**
 * How WeChat is answered: `success` (no reply), the empty string (what the release check wants before its
 * customer-service message), or a passive text reply.
 */
export type MessageAnswer =
  | { kind: 'success' }
  | { kind: 'empty' }
  | { kind: 'text'; content: string };

export interface MessageOutcome {
  outcome: 'published' | 'duplicate' | 'unknown_authorizer';
  answer: MessageAnswer;
}

const SUCCESS: MessageAnswer = { kind: 'success' };

/**
 * Handles one verified, decrypted push for `authorizerAppId`: an appid that is not an authorizer of this
 * platform is acknowledged and counted, never published; a push this container published lately (WeChat's
 * retry) is not published again; anything else goes on the bus, and only once the bus has it is WeChat
 * answered (a publish that fails throws, so WeChat delivers the push again). WeChat's release check gets its
 * answers (`release-check.ts`); a retried `QUERY_AUTH_CODE` does not send its customer-service reply twice.
 *
 * @throws MessageUnpublishedError when the bus did not take the push.
 * @see ../../docs/wechat-protocol.md §13
 */
export async function handleWechatMessage(
  ctx: TokenContext,
  intake: MessageIntake,
  authorizerAppId: string,
  message: WechatMessage
): Promise<MessageOutcome> {
  const now = ctx.clock();
  if (!(await intake.known.isKnown(authorizerAppId, now))) {
    ctx.metrics.count(MetricName.MessageRefused, 1, 'unknown_authorizer');
    ctx.log.info('message for an appid that is not an authorizer acknowledged, not published', {
      authorizerAppId,
      msgType: message.MsgType,
    });
    return { outcome: 'unknown_authorizer', answer: SUCCESS };
  }
  const event = wechatMessageEvent(ctx.componentAppId, authorizerAppId, message);
  const duplicate = intake.recent.has(event.id, now);
  if (duplicate) {
    ctx.metrics.count(MetricName.MessageDuplicate);
  } else {
    if (!ctx.events) throw new MessageUnpublishedError('no event bus is configured');
    const { failed } = await ctx.events.publish([event]);
    if (failed.length) {
      ctx.metrics.count(MetricName.MessagePublishFailed, 1, failed[0]?.error);
      throw new MessageUnpublishedError(
        'the event bus did not take the message; WeChat will retry'
      );
    }
    intake.recent.add(event.id, now);
    ctx.metrics.count(MetricName.MessagePublished);
  }
  const check = releaseCheckAnswer(authorizerAppId, message);
  return {
    outcome: duplicate ? 'duplicate' : 'published',
    answer: check
      ? await answerReleaseCheck(ctx, intake, authorizerAppId, check, duplicate)
      : SUCCESS,
  };
}

async function answerReleaseCheck(
  ctx: TokenContext,
  intake: MessageIntake,
  authorizerAppId: string,
  answer: ReleaseCheckAnswer,
  duplicate: boolean
): Promise<MessageAnswer> {
  if (answer.kind === 'text') return answer;
  if (!duplicate) {
    await intake.startReleaseCheckReply({
      job: 'release-check-reply',
      authorizerAppId,
      queryAuthCode: answer.queryAuthCode,
      toUser: answer.toUser,
    });
    ctx.log.info('release check: customer-service answer started', { authorizerAppId });
  }
  return { kind: 'empty' };
}
