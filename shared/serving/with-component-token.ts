import type { TokenContext } from '../token-context';
import { getComponentAccessToken } from './component-token';
import { retryOnceIfRejected } from './retry-rejected-token';

/**
 * Runs a component API call with the current `component_access_token`. If WeChat rejects that token
 * (40001/40014/42001), the token is compare-and-refreshed once (only if it is still the stored one; the
 * rejection is first-hand, so no check is made) and the call is retried once (`retryOnceIfRejected`).
 *
 * @see https://developers.weixin.qq.com/doc/service/en/Basic_Information/Get_access_token.html
 */
export function withComponentToken<T>(
  ctx: TokenContext,
  call: (componentAccessToken: string) => Promise<T>
): Promise<T> {
  return retryOnceIfRejected(
    ctx,
    'component',
    (options) => getComponentAccessToken(ctx, options),
    call
  );
}
