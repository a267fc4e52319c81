import { errorCode } from '../../shared/errors';
import type { TokenContext } from '../../shared/tokens/context';
import { withComponentToken } from '../../shared/tokens/with-component-token';
import type { LinkedAccount } from './pages';

/** Longer names are cut: WeChat's own limit is far below, and the page stays tidy whatever it sends. */
const MAX_NAME_LENGTH = 64;

/**
 * The account's name (`authorizer_info.nick_name`) from `api_get_authorizer_info` (获取授权方的帐号基本信息):
 * one call, under the context's deadline. Undefined when WeChat fails or sends none: the success page
 * then names the account by its appid.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerinfo
 */
async function nickName(ctx: TokenContext, appId: string): Promise<string | undefined> {
  try {
    const info = await withComponentToken(ctx, (ct) => ctx.api.apiGetAuthorizerInfo(ct, appId));
    const name = info.authorizer_info?.nick_name;
    return typeof name === 'string' && name.trim()
      ? name.trim().slice(0, MAX_NAME_LENGTH)
      : undefined;
  } catch (error) {
    ctx.log.warn('account name unavailable; the result page names the appid only', {
      authorizerAppId: appId,
      code: errorCode(error),
    });
    return undefined;
  }
}

/**
 * What the callback's result page shows of an account that authorized: its stored status and permission
 * sets, and, when `askWechat` (the visit may spend a WeChat call), its name.
 */
export async function linkedAccount(
  ctx: TokenContext,
  appId: string,
  askWechat: boolean
): Promise<LinkedAccount> {
  const [stored, name] = await Promise.all([
    ctx.store.getAuthorizer(ctx.componentAppId, appId),
    askWechat ? nickName(ctx, appId) : undefined,
  ]);
  return {
    appId,
    nickName: name,
    funcInfo: stored?.funcInfo ?? [],
    withoutApiPermission: stored?.status === 'without_api_permission',
  };
}
