import { WechatApiError } from '../errors';
import type { TokenContext } from '../token-context';
import { getAuthorizerAccessToken } from './authorizer-tokens';

/**
 * Runs a call made with the authorizer's `authorizer_access_token`, served by the authorizer's own rules
 * (`getAuthorizerAccessToken`). If WeChat rejects that token (40001/40014/42001), the rejection was seen on
 * the service's own call: the token is renewed without a check (`rejectedOnOwnCall`, only if it is still
 * the stored one) and the call is retried once, as `withComponentToken` does for the component token.
 *
 * @throws the authorizer's status errors (revoked, …), or the call's error.
 * @see https://developers.weixin.qq.com/doc/service/en/Basic_Information/Get_access_token.html
 */
export async function withAuthorizerToken<T>(
  ctx: TokenContext,
  authorizerAppId: string,
  call: (authorizerAccessToken: string) => Promise<T>
): Promise<T> {
  const { accessToken } = await getAuthorizerAccessToken(ctx, authorizerAppId);
  try {
    return await call(accessToken);
  } catch (error) {
    if (!(error instanceof WechatApiError && error.kind === 'token_invalid')) throw error;
    ctx.log.warn('WeChat rejected the authorizer token; renewing it once', {
      api: error.api,
      errcode: error.errcode,
    });
    const fresh = await getAuthorizerAccessToken(ctx, authorizerAppId, {
      invalidToken: accessToken,
      rejectedOnOwnCall: true,
    });
    return call(fresh.accessToken);
  }
}
