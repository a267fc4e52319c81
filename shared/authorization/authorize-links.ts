import { withComponentToken } from '../serving/with-component-token';
import type { TokenContext } from '../token-context';
import {
  type AuthorizeLinks,
  type AuthorizeOptions,
  buildAuthorizeLinks,
} from '../wechat/auth-links';

/**
 * Fresh authorization links for one page visit: a new single-use `pre_auth_code` (预授权码) each time,
 * because a reused one fails with "预授权码已经被授权过".
 *
 * @throws TicketUnavailableError / WechatApiError when the component token or pre-auth code cannot be had.
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getpreauthcode
 */
export async function createAuthorizeLinks(
  ctx: TokenContext,
  input: {
    redirectUri: string;
    options: AuthorizeOptions;
    pageOrigins?: { pc: string; h5: string };
  }
): Promise<AuthorizeLinks & { expiresAt: number }> {
  const answer = await withComponentToken(ctx, (ct) => ctx.api.apiCreatePreauthcode(ct));
  return {
    ...buildAuthorizeLinks({
      componentAppId: ctx.componentAppId,
      preAuthCode: answer.pre_auth_code,
      redirectUri: input.redirectUri,
      options: input.options,
      pageOrigins: input.pageOrigins,
    }),
    expiresAt: ctx.clock() + answer.expires_in * 1000,
  };
}
