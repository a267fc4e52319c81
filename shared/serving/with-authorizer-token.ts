import type { TokenContext } from '../token-context';
import { getAuthorizerAccessToken } from './authorizer-tokens';
import { retryOnceIfRejected } from './retry-rejected-token';

/**
 * Runs a call made with the authorizer's `authorizer_access_token`, served by the authorizer's own rules
 * (`getAuthorizerAccessToken`). If WeChat rejects that token (40001/40014/42001), the rejection was seen on
 * the service's own call: the token is renewed without a check and the call is retried once
 * (`retryOnceIfRejected`), as `withComponentToken` does for the component token.
 *
 * @throws the authorizer's status errors (revoked, …), or the call's error.
 * @see https://developers.weixin.qq.com/doc/service/en/Basic_Information/Get_access_token.html
 */
export function withAuthorizerToken<T>(
  ctx: TokenContext,
  authorizerAppId: string,
  call: (authorizerAccessToken: string) => Promise<T>
): Promise<T> {
  return retryOnceIfRejected(
    ctx,
    'authorizer',
    (options) => getAuthorizerAccessToken(ctx, authorizerAppId, options),
    call
  );
}
