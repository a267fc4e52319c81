import type { AuthorizerInfoResponse } from '../../shared/wechat/wire';

/**
 * WeChat's `api_get_authorizer_info` answer for an account with `refreshToken` and the permission sets
 * `funcIds`: what the reconciliation reads for every authorization it stores.
 */
export function authorizerInfo(
  authorizerAppId: string,
  refreshToken: string,
  funcIds: readonly number[] = [1]
): AuthorizerInfoResponse {
  return {
    authorizer_info: { nick_name: 'Shop' },
    authorization_info: {
      authorizer_appid: authorizerAppId,
      authorizer_refresh_token: refreshToken,
      func_info: funcIds.map((id) => ({ funcscope_category: { id } })),
    },
  } as AuthorizerInfoResponse;
}
