import { isAppId } from '../config';
import { InvalidRequestError } from '../errors';

/**
 * Authorization links (授权链接) a merchant admin clicks to authorize the platform: the PC QR-code page and
 * the new H5 page. Pure functions; the page that shows them must be served from the configured
 * authorization domain (授权发起页域名), because WeChat checks the Referer.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Authorization_Process_Technical_Description.html
 */

export const WECHAT_PC_AUTHORIZE_URL = 'https://mp.weixin.qq.com/cgi-bin/componentloginpage';
export const WECHAT_H5_AUTHORIZE_URL = 'https://open.weixin.qq.com/wxaopen/safe/bindcomponent';

/**
 * `auth_type`: which accounts the admin may pick. 1 official accounts, 2 mini programs, 3 both,
 * 4 mini-program promoter (推客) accounts, 5 Channels (视频号), 6 all of 1/2/5, 8 sales-assistant (带货助手).
 */
export const AUTH_TYPES = [1, 2, 3, 4, 5, 6, 8] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
export const DEFAULT_AUTH_TYPE: AuthType = 3;

export interface AuthorizeOptions {
  authType: AuthType;
  /** Restrict the authorization to this one account; wins over `authType` when they conflict. */
  bizAppId?: string;
  /** Permission-set ids to request (`category_id_list`, `|`-separated); default: all released sets. */
  categoryIds?: number[];
}

/**
 * Validates the page's query parameters (`auth_type`, `biz_appid`, `category_id_list`).
 *
 * @throws InvalidRequestError naming the bad parameter; the message never echoes the raw value.
 */
export function parseAuthorizeOptions(query: Record<string, string | undefined>): AuthorizeOptions {
  const rawType = query.auth_type;
  let authType: AuthType = DEFAULT_AUTH_TYPE;
  if (rawType !== undefined && rawType !== '') {
    const parsed = /^\d{1,2}$/.test(rawType) ? Number(rawType) : Number.NaN;
    if (!(AUTH_TYPES as readonly number[]).includes(parsed)) {
      throw new InvalidRequestError(`auth_type must be one of ${AUTH_TYPES.join(', ')}`);
    }
    authType = parsed as AuthType;
  }
  const bizAppId = query.biz_appid || undefined;
  if (bizAppId !== undefined && !isAppId(bizAppId)) {
    throw new InvalidRequestError('biz_appid must be an appid (wx followed by letters and digits)');
  }
  const rawCategories = query.category_id_list || undefined;
  let categoryIds: number[] | undefined;
  if (rawCategories !== undefined) {
    if (!/^\d{1,5}([|,]\d{1,5}){0,63}$/.test(rawCategories)) {
      throw new InvalidRequestError(
        'category_id_list must be permission-set ids separated by | (for example 1|2|3)'
      );
    }
    categoryIds = [...new Set(rawCategories.split(/[|,]/).map(Number))];
  }
  return { authType, ...(bizAppId ? { bizAppId } : {}), ...(categoryIds ? { categoryIds } : {}) };
}

export interface AuthorizeLinks {
  pc: string;
  h5: string;
}

/**
 * Builds both links for one fresh `pre_auth_code` (single use: never cache a link). `redirect_uri` is
 * URL-encoded, as WeChat requires. `pageOrigins` lets the sandbox point the links at its simulator.
 */
export function buildAuthorizeLinks(input: {
  componentAppId: string;
  preAuthCode: string;
  redirectUri: string;
  options: AuthorizeOptions;
  pageOrigins?: { pc: string; h5: string };
}): AuthorizeLinks {
  const params = new URLSearchParams({
    component_appid: input.componentAppId,
    pre_auth_code: input.preAuthCode,
    redirect_uri: input.redirectUri,
    auth_type: String(input.options.authType),
  });
  if (input.options.bizAppId) params.set('biz_appid', input.options.bizAppId);
  if (input.options.categoryIds?.length) {
    params.set('category_id_list', input.options.categoryIds.join('|'));
  }
  const pc = input.pageOrigins?.pc ?? WECHAT_PC_AUTHORIZE_URL;
  const h5 = input.pageOrigins?.h5 ?? WECHAT_H5_AUTHORIZE_URL;
  const h5Params = new URLSearchParams({ action: 'bindcomponent', no_scan: '1' });
  for (const [name, value] of params) h5Params.set(name, value);
  return {
    pc: `${pc}?${params}`,
    h5: `${h5}?${h5Params}#wechat_redirect`,
  };
}
