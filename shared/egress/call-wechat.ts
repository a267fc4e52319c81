import { MetricName } from '../log';
import { tokenHandle } from '../serving/token-handle';
import type { TokenContext } from '../token-context';
import { errorKind } from '../wechat/errcodes';
import type { WechatCallRequest } from './wechat-call-request';
import type { RelayAnswer, RelayRequest, WechatRelay } from './wechat-relay';

/** Longest wait for WeChat's answer to a relayed call when the invocation sets no deadline. */
export const RELAY_TIMEOUT_MS = 10_000;

/**
 * The call as sent: the credential in `tokenParam`, and for the platform's own calls its
 * `component_appid` where WeChat's component APIs want it and the caller left it out (the query of the
 * `/sns/…/component` logins, the JSON body of `/cgi-bin/component/…`).
 */
function outgoing(ctx: TokenContext, request: WechatCallRequest, token: string): RelayRequest {
  const query: Record<string, string> = { ...request.query };
  let body = request.body;
  if ('component' in request.target) {
    if (request.path.startsWith('/sns/') && query.component_appid === undefined) {
      query.component_appid = ctx.componentAppId;
    }
    const json = body && 'json' in body ? body.json : undefined;
    if (
      request.path.startsWith('/cgi-bin/component/') &&
      json &&
      typeof json === 'object' &&
      !Array.isArray(json) &&
      !('component_appid' in json)
    ) {
      body = { json: { ...json, component_appid: ctx.componentAppId } };
    }
  }
  query[request.tokenParam] = token;
  return { method: request.method, path: request.path, query, ...(body ? { body } : {}) };
}

const left = (ctx: TokenContext) => (ctx.deadline ?? ctx.clock() + RELAY_TIMEOUT_MS) - ctx.clock();

/**
 * Makes a caller's WeChat call from our whitelisted egress with the credential it names (an authorizer's
 * token or the platform's component token), so callers need no IP of their own on the platform's whitelist
 * (protocol §7.1, §11.13). WeChat's answer is handed back as it came, its errcodes included. When WeChat
 * rejects the token (40001, 42001, 40014), the token is reported as get-token's `invalidToken` is
 * (checked, renewed once across every caller if dead) and the call is sent once more with the new token,
 * never more: a token killed mid-call costs one renewal and one retry.
 *
 * @throws the token's errors (not found, revoked, …) and `WechatUnavailableError` when WeChat did not answer.
 */
export async function callWechat(
  ctx: TokenContext,
  relay: WechatRelay,
  request: WechatCallRequest
): Promise<RelayAnswer> {
  const credential = tokenHandle(ctx, request.target);
  const issued = await credential.serve();
  let answer = await relay.send(outgoing(ctx, request, issued.accessToken), left(ctx));
  if (answer.errcode !== undefined && errorKind(answer.errcode) === 'token_invalid') {
    const renewed = await credential.serve({ invalidToken: issued.accessToken });
    if (renewed.accessToken !== issued.accessToken) {
      ctx.log.info('WeChat rejected the token of a relayed call; sent again with the renewed one', {
        route: `${request.method} ${request.path}`,
      });
      answer = await relay.send(outgoing(ctx, request, renewed.accessToken), left(ctx));
    }
  }
  ctx.metrics.count(
    MetricName.WechatCallRelayed,
    1,
    answer.errcode ? `errcode_${answer.errcode}` : undefined,
    request.path
  );
  return answer;
}
