import type { TokenContext } from '../token-context';
import { getAuthorizerAccessToken, peekAuthorizerToken } from './authorizer-tokens';
import { getComponentAccessToken, peekComponentToken } from './component-token';
import type { IssuedToken } from './servable-token';
import type { ServeOptions } from './serve-token';

/**
 * One credential a caller may ask for, the platform's `component_access_token` or one authorizer's
 * `authorizer_access_token`, as one object: the caller decides which once (`tokenHandle`) and then only
 * serves or peeks, as EasyWeChat gives each credential its own `AccessToken` object.
 */
export interface TokenHandle {
  /** The appid the token acts for: the platform's own, or the authorizer's. */
  readonly appId: string;
  /**
   * The token by `serveToken`'s rules, renewed through the lease when due or reported dead.
   *
   * @throws the status errors of the credential (not found, revoked, …), or the renewal's when no usable
   *   token remains.
   */
  serve(options?: ServeOptions): Promise<IssuedToken>;
  /**
   * The stored token while it has promised life left, without renewing: what an answer falls back to when
   * its deadline comes first.
   */
  peek(invalidToken?: string): Promise<IssuedToken | undefined>;
}

/** Which token: the platform's own, or one authorizer's. */
export type TokenTarget = { component: true } | { authorizerAppId: string };

/** The platform's `component_access_token`. */
export function componentTokenHandle(ctx: TokenContext): TokenHandle {
  return {
    appId: ctx.componentAppId,
    serve: (options) => getComponentAccessToken(ctx, options),
    peek: (invalidToken) => peekComponentToken(ctx, invalidToken),
  };
}

/** One authorizer's `authorizer_access_token`. */
export function authorizerTokenHandle(ctx: TokenContext, authorizerAppId: string): TokenHandle {
  return {
    appId: authorizerAppId,
    serve: (options) => getAuthorizerAccessToken(ctx, authorizerAppId, options),
    peek: (invalidToken) => peekAuthorizerToken(ctx, authorizerAppId, invalidToken),
  };
}

/** The handle of the token `target` names. */
export function tokenHandle(ctx: TokenContext, target: TokenTarget): TokenHandle {
  return 'component' in target
    ? componentTokenHandle(ctx)
    : authorizerTokenHandle(ctx, target.authorizerAppId);
}
