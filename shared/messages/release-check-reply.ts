import { exchangeAuthCode } from '../authorization/auth-codes';
import { callWechat } from '../egress/call-wechat';
import type { WechatRelay } from '../egress/wechat-relay';
import type { TokenContext } from '../token-context';
import type { ReleaseCheckReplyJob } from './handle-message';
import { releaseCheckApiReply } from './release-check';

/** WeChat's test authorization codes are short-lived like any other (about 10 minutes). */
const QUERY_AUTH_CODE_LIFETIME_MS = 10 * 60_000;

/**
 * The release check's third step, after the intake answered `QUERY_AUTH_CODE:<code>` with an empty string:
 * the code is stored and exchanged (`api_query_auth`, through `exchangeAuthCode`: stored first, exchanged
 * once, even though the account already holds a token: the check demands the exchange), then `<code>_from_api` is sent to the fan with the customer-service API
 * (`/cgi-bin/message/custom/send`) from our egress, with the token that exchange stored.
 *
 * @returns WeChat's errcode for the customer-service message (0: sent).
 * @see ../../docs/wechat-protocol.md §13
 */
export async function sendReleaseCheckReply(
  ctx: TokenContext,
  relay: WechatRelay,
  job: ReleaseCheckReplyJob
): Promise<{ errcode: number }> {
  const now = ctx.clock();
  await exchangeAuthCode(
    ctx,
    {
      code: job.queryAuthCode,
      source: 'push',
      expiresAt: now + QUERY_AUTH_CODE_LIFETIME_MS,
      receivedAt: now,
      authorizerAppId: job.authorizerAppId,
    },
    { wait: true, mintWhileHeld: true }
  );
  const answer = await callWechat(ctx, relay, {
    target: { authorizerAppId: job.authorizerAppId },
    method: 'POST',
    path: '/cgi-bin/message/custom/send',
    query: {},
    body: {
      json: {
        touser: job.toUser,
        msgtype: 'text',
        text: { content: releaseCheckApiReply(job.queryAuthCode) },
      },
    },
    tokenParam: 'access_token',
  });
  const errcode = answer.errcode ?? 0;
  const log = errcode === 0 ? ctx.log.info : ctx.log.warn;
  log('release check: customer-service answer sent', {
    authorizerAppId: job.authorizerAppId,
    errorCode: errcode === 0 ? undefined : `errcode_${errcode}`,
  });
  return { errcode };
}
