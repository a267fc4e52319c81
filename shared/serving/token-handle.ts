import type { AuthorizerTicketType } from '../store/token-store';
import type { TokenContext } from '../token-context';
import { getAuthorizerTicket, peekAuthorizerTicket } from './authorizer-tickets';
import { getAuthorizerAccessToken, peekAuthorizerToken } from './authorizer-tokens';
import { getComponentAccessToken, peekComponentToken } from './component-token';
import type { IssuedToken } from './servable-token';
import type { ServeOptions } from './serve-token';

/**
 * One credential a caller may ask for, the platform's `component_access_token`, one authorizer's
 * `authorizer_access_token` or one of its `getticket` tickets, as one object: the caller decides which once
 * (`tokenHandle`) and then only serves or peeks, as EasyWeChat gives each credential its own `AccessToken`
 * object. For a ticket, `IssuedToken.accessToken` holds the ticket and `invalidToken` is the reported ticket.
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

/** Which credential: the platform's token, one authorizer's token, or one authorizer's ticket. */
export type TokenTarget =
  | { component: true }
  | { authorizerAppId: string; ticket?: undefined }
  | { authorizerAppId: string; ticket: AuthorizerTicketType };

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

/** One authorizer's `getticket` ticket of `type` (`jsapi_ticket`, or the card `api_ticket`). */
export function authorizerTicketHandle(
  ctx: TokenContext,
  authorizerAppId: string,
  type: AuthorizerTicketType
): TokenHandle {
  return {
    appId: authorizerAppId,
    serve: (options) => getAuthorizerTicket(ctx, authorizerAppId, type, options),
    peek: (invalidTicket) => peekAuthorizerTicket(ctx, authorizerAppId, type, invalidTicket),
  };
}

/** The handle of the credential `target` names. */
export function tokenHandle(ctx: TokenContext, target: TokenTarget): TokenHandle {
  if ('component' in target) return componentTokenHandle(ctx);
  return target.ticket === undefined
    ? authorizerTokenHandle(ctx, target.authorizerAppId)
    : authorizerTicketHandle(ctx, target.authorizerAppId, target.ticket);
}
