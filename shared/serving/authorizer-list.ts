import { WechatUnavailableError } from '../errors';
import { AUTHORIZER_LIST_PAGE } from '../policy';
import type { TokenContext } from '../token-context';
import { permissionIds } from '../wechat/permissions';
import type { AuthorizerListResponse } from '../wechat/wire';
import { withComponentToken } from './with-component-token';

/** Entries per list page: WeChat's maximum unless the context sets fewer (`TokenContext.listPageSize`). */
export const listPageSize = (ctx: Pick<TokenContext, 'listPageSize'>): number =>
  ctx.listPageSize ?? AUTHORIZER_LIST_PAGE;

export type ListedAuthorizer = AuthorizerListResponse['list'][number];

/**
 * An authorization as `api_get_authorizer_info` describes it: the current refresh token, the permission
 * sets, and the account's name.
 */
export interface DescribedAuthorization {
  /** Absent or empty when WeChat holds none (protocol §11.7: a fresh authorization code is needed). */
  refreshToken?: string;
  funcInfo: number[];
  /** `authorizer_info.nick_name`, trimmed and cut to `MAX_NAME_LENGTH`; absent when WeChat sent none. */
  accountName?: string;
}

/** Longer names are cut: WeChat's own limit is far below, and a page stays tidy whatever it sends. */
const MAX_NAME_LENGTH = 64;

function accountNameOf(nickName: unknown): string | undefined {
  return typeof nickName === 'string' && nickName.trim()
    ? nickName.trim().slice(0, MAX_NAME_LENGTH)
    : undefined;
}

/**
 * Asks WeChat for one authorizer's current authorization (`api_get_authorizer_info`, 获取授权方的帐号基本信息),
 * which mints nothing: how a lost exchange, a missed re-authorization or an absence from a listing is
 * settled (protocol §2.7, §11.2), and where the callback's result page gets the account's name. Throws
 * WeChat's errors as they come (61003: the account no longer authorizes the platform).
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerinfo
 */
export async function readAuthorization(
  ctx: TokenContext,
  authorizerAppId: string
): Promise<DescribedAuthorization> {
  const info = await withComponentToken(ctx, (ct) =>
    ctx.api.apiGetAuthorizerInfo(ct, authorizerAppId)
  );
  return {
    refreshToken: info.authorization_info.authorizer_refresh_token,
    funcInfo: permissionIds(info.authorization_info.func_info),
    accountName: accountNameOf(info.authorizer_info?.nick_name),
  };
}

/**
 * Looks one authorizer up in `api_get_authorizer_list` (500 a page). Finding it is evidence at once; "not
 * listed" is concluded only from a complete, consistent listing: every page read, the same `total_count` on
 * each, and as many items as it announced (architecture §7, protocol §11.7). Anything else is an upstream
 * failure, never a verdict.
 *
 * @returns the listed entry, or undefined when WeChat completely lists the platform without it.
 * @throws WechatUnavailableError for a partial or inconsistent listing; the API's own errors.
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerlist
 */
export async function findListedAuthorizer(
  ctx: TokenContext,
  authorizerAppId: string
): Promise<ListedAuthorizer | undefined> {
  return withComponentToken(ctx, async (componentAccessToken) => {
    const pageSize = listPageSize(ctx);
    let total: number | undefined;
    let seen = 0;
    for (let offset = 0; ; offset += pageSize) {
      const page = await ctx.api.apiGetAuthorizerList(componentAccessToken, offset, pageSize);
      const found = page.list.find((item) => item.authorizer_appid === authorizerAppId);
      if (found) return found;
      total ??= page.total_count;
      seen += page.list.length;
      const pageShort = page.list.length < Math.min(pageSize, total - offset);
      if (page.total_count !== total || pageShort || seen > total) {
        throw new WechatUnavailableError(
          'api_get_authorizer_list',
          'the listing changed or was incomplete while it was read',
          { uncertain: false }
        );
      }
      if (seen === total) return undefined;
    }
  });
}
