import { WechatApiError } from '../errors';
import type { TokenContext } from '../token-context';
import type { IssuedToken } from './servable-token';
import type { ServeOptions } from './serve-token';

const RENEWING = {
  component: 'WeChat rejected the component token; refreshing it once',
  authorizer: 'WeChat rejected the authorizer token; renewing it once',
} as const;

/**
 * Runs `call` with the token `serve` hands out. If WeChat rejects that token (40001/40014/42001), the
 * rejection was seen on the service's own call: the token is renewed without a check (`rejectedOnOwnCall`,
 * only if it is still the stored one) and the call is retried once, never more, as WeChat's
 * central-control-server guidance asks. One rule for the component token (`withComponentToken`) and an
 * authorizer's (`withAuthorizerToken`).
 *
 * @see https://developers.weixin.qq.com/doc/service/en/Basic_Information/Get_access_token.html
 */
export async function retryOnceIfRejected<T>(
  ctx: TokenContext,
  credential: keyof typeof RENEWING,
  serve: (options?: ServeOptions) => Promise<IssuedToken>,
  call: (accessToken: string) => Promise<T>
): Promise<T> {
  const { accessToken } = await serve();
  try {
    return await call(accessToken);
  } catch (error) {
    if (!(error instanceof WechatApiError && error.kind === 'token_invalid')) throw error;
    ctx.log.warn(RENEWING[credential], { api: error.api, errcode: error.errcode });
    const fresh = await serve({ invalidToken: accessToken, rejectedOnOwnCall: true });
    return call(fresh.accessToken);
  }
}
