import { WechatApiError } from '../errors';
import type { TokenContext } from '../token-context';
import { getComponentAccessToken } from './component-token';

/**
 * Runs a component API call with the current `component_access_token`. If WeChat rejects that token
 * (40001/40014/42001), the token is compare-and-refreshed once (only if it is still the stored one; the
 * rejection is first-hand, so no check is made) and the call is retried once, as WeChat's central-control-server guidance asks.
 *
 * @see https://developers.weixin.qq.com/doc/service/en/Basic_Information/Get_access_token.html
 */
export async function withComponentToken<T>(
  ctx: TokenContext,
  call: (componentAccessToken: string) => Promise<T>
): Promise<T> {
  const { accessToken } = await getComponentAccessToken(ctx);
  try {
    return await call(accessToken);
  } catch (error) {
    if (!(error instanceof WechatApiError && error.kind === 'token_invalid')) throw error;
    ctx.log.warn('WeChat rejected the component token; refreshing it once', {
      api: error.api,
      errcode: error.errcode,
    });
    const fresh = await getComponentAccessToken(ctx, {
      invalidToken: accessToken,
      rejectedOnOwnCall: true,
    });
    return call(fresh.accessToken);
  }
}
