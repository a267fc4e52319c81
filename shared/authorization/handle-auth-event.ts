import { errorCode } from '../errors';
import { authorizerBeforeChange, pendingEventOf, settlePendingEvents } from '../events/outbox';
import { MetricName } from '../log';
import { TICKET_LIFETIME_MS } from '../policy';
import type { TokenContext } from '../token-context';
import type { AuthEvent } from '../wechat/callback-xml';
import { exchangeAuthCode } from './auth-codes';

export type AuthEventOutcome =
  | 'ticket_stored'
  | 'ticket_ignored'
  | 'authorization_exchanged'
  | 'authorization_pending'
  | 'authorization_failed'
  | 'revoked'
  | 'revocation_ignored'
  | 'ignored';

/**
 * Acts on one decrypted authorization event:
 * - `component_verify_ticket`: kept unless a newer one is stored (a replayed or late push never wins) or it
 *   is already past its 12 h life;
 * - `authorized` / `updateauthorized`: the code is stored, then exchanged once (a failure leaves it pending
 *   for the schedule; the push is still acknowledged);
 * - `unauthorized`: the authorizer is tombstoned, its tokens dropped, and it leaves the refresh schedule;
 * - anything else is logged and acknowledged.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorize_event.html
 */
export async function handleAuthEvent(
  ctx: TokenContext,
  event: AuthEvent
): Promise<AuthEventOutcome> {
  const now = ctx.clock();
  switch (event.infoType) {
    case 'component_verify_ticket': {
      if (now - event.createTime >= TICKET_LIFETIME_MS) {
        ctx.log.warn('ignored a component_verify_ticket past its 12 h life', {
          createTime: event.createTime,
        });
        return 'ticket_ignored';
      }
      const stored = await ctx.store.putTicket({
        componentAppId: ctx.componentAppId,
        ticket: event.ticket,
        createTime: event.createTime,
        receivedAt: now,
      });
      ctx.metrics.count(MetricName.TicketReceived);
      ctx.log.debug(
        stored ? 'component_verify_ticket stored' : 'older or duplicate ticket ignored',
        {
          createTime: event.createTime,
        }
      );
      return stored ? 'ticket_stored' : 'ticket_ignored';
    }
    case 'authorized':
    case 'updateauthorized': {
      try {
        const result = await exchangeAuthCode(
          ctx,
          {
            code: event.authorizationCode,
            source: 'push',
            expiresAt: event.authorizationCodeExpiresAt,
            receivedAt: event.createTime,
            authorizerAppId: event.authorizerAppId,
          },
          { wait: false }
        );
        return result.status === 'exchanged' ? 'authorization_exchanged' : 'authorization_pending';
      } catch (error) {
        ctx.log.warn('authorization push stored; exchange not completed', {
          infoType: event.infoType,
          authorizerAppId: event.authorizerAppId,
          code: errorCode(error),
        });
        return errorCode(error) === 'auth_code_expired'
          ? 'authorization_failed'
          : 'authorization_pending';
      }
    }
    case 'unauthorized': {
      const previous = await authorizerBeforeChange(ctx, event.authorizerAppId);
      const revoked =
        previous?.status === 'revoked'
          ? undefined
          : pendingEventOf(ctx, {
              type: 'revoked',
              authorizerAppId: event.authorizerAppId,
              status: 'revoked',
              permissionSetIds: previous?.funcInfo ?? [],
              reason: 'push',
              at: event.createTime,
            });
      const ended = await ctx.store.endAuthorization(
        ctx.componentAppId,
        event.authorizerAppId,
        'revoked',
        { eventTime: event.createTime, event: revoked },
        now
      );
      // Also what a retry of this push is for, when the first attempt stopped after the state change:
      // its event, written with the change, is still on the item and goes out now.
      await settlePendingEvents(ctx, event.authorizerAppId);
      ctx.log.info(
        ended ? 'authorizer revoked' : 'revocation older than the authorization ignored',
        {
          authorizerAppId: event.authorizerAppId,
        }
      );
      return ended ? 'revoked' : 'revocation_ignored';
    }
    default:
      ctx.log.info('acknowledged an event this service does not act on', {
        infoType: event.rawInfoType,
      });
      return 'ignored';
  }
}
