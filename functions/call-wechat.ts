import { callWechat } from '../shared/egress/call-wechat';
import { parseWechatCallRequest } from '../shared/egress/wechat-call-request';
import {
  type CallerErrorCode,
  callerErrorCode,
  errorCode,
  PayloadTooLargeError,
  UpstreamUnavailableError,
  WechatUnavailableError,
} from '../shared/errors';
import { answerWithin, forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type Deps, type GetDeps, getDeps } from './lib/deps';
import { inLambda, invoked } from './lib/invoked';

/** The largest answer handed back: Lambda's 6 MB response limit, less room for the envelope. */
export const MAX_ANSWER_BYTES = 5.5 * 1024 * 1024;

/** What call-wechat answers: WeChat's answer as it came, or a coded error of ours. */
export type CallWechatResponse =
  | { status: number; contentType: string; body?: unknown; bodyBase64?: string }
  | { error: { code: CallerErrorCode; message: string } };

/**
 * call-wechat, invoked directly by callers (`lambda:InvokeFunction`): makes one WeChat API call for them
 * from our egress, whose Elastic IP is on the platform's whitelist, with the token it names added by us
 * (`shared/egress/call-wechat.ts`). WeChat's answer comes back as it came, its errcodes in `body`; our own
 * failures are `{"error":{"code","message"}}` with get-token's codes plus `invalid_request` and
 * `payload_too_large`. The answer always comes before the invocation's deadline.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/operation/thirdparty/prepare.html
 */
export const createHandler =
  (deps: GetDeps) =>
  async (event: unknown, context?: InvocationContext): Promise<CallWechatResponse> => {
    const budget = workBudget(context);
    let d: Deps | undefined;
    try {
      d = await deps();
      const request = parseWechatCallRequest(event, {
        componentAppId: d.componentAppId,
        ...(d.config.callWechatPathPrefixes
          ? { allowedPrefixes: d.config.callWechatPathPrefixes }
          : {}),
      });
      const ready = forInvocation(d, budget);
      const answer = await answerWithin(budget, callWechat(ready, ready.relay, request), () =>
        Promise.reject(new UpstreamUnavailableError('deadline'))
      );
      const { errcode: _errcode, ...asItCame } = answer;
      if (Buffer.byteLength(JSON.stringify(asItCame)) > MAX_ANSWER_BYTES) {
        throw new PayloadTooLargeError(
          'WeChat’s answer is larger than a Lambda invocation can return (6 MB); fetch such media from your own whitelisted egress'
        );
      }
      return asItCame;
    } catch (error) {
      const code = callerErrorCode(error);
      const fields = {
        code: errorCode(error),
        reason: error instanceof UpstreamUnavailableError ? error.reason : undefined,
        errorName: code === 'upstream_unavailable' ? (error as Error | undefined)?.name : undefined,
      };
      if (code === 'upstream_unavailable') d?.log.error('call-wechat failed', fields);
      else d?.log.info('call-wechat refused', fields);
      return {
        error:
          code !== 'upstream_unavailable'
            ? { code, message: (error as Error).message }
            : error instanceof WechatUnavailableError
              ? {
                  code,
                  message:
                    'WeChat did not answer the call; it may have been processed: check before sending it again',
                }
              : {
                  code,
                  message: 'a token could not be obtained from WeChat just now; retry shortly',
                },
      };
    }
  };

/** The handler wrapped in middy, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) => invoked(createHandler(deps));

export const handler = inLambda(makeHandler(getDeps));
