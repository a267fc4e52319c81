import { describe, expect, it } from 'vitest';
import { AuthorizerNotFoundError } from '../../../../shared/errors';
import { tokenHandle } from '../../../../shared/serving/token-handle';
import { AUTHORIZER_APPID, COMPONENT_APPID } from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

describe('tokenHandle', () => {
  it('names the platform’s component token, and serves and peeks the stored one', async () => {
    const { ctx } = await tokenContext();

    const token = tokenHandle(ctx, { component: true });

    expect(token.appId).toBe(COMPONENT_APPID);
    expect(await token.serve()).toMatchObject({ accessToken: 'component-token' });
    expect(await token.peek()).toMatchObject({ accessToken: 'component-token' });
  });

  it('names one authorizer’s token, and serves and peeks the stored one', async () => {
    const { ctx } = await tokenContext();

    const token = tokenHandle(ctx, { authorizerAppId: AUTHORIZER_APPID });

    expect(token.appId).toBe(AUTHORIZER_APPID);
    expect(await token.serve()).toMatchObject({ accessToken: 'access-1' });
    expect(await token.peek()).toMatchObject({ accessToken: 'access-1' });
  });

  it('names one authorizer’s ticket, and serves (fetching it once) and peeks it', async () => {
    let calls = 0;
    const { ctx } = await tokenContext({
      getTicket: async (token, type) => {
        calls += 1;
        return { ticket: `${type}-${token}`, expires_in: 7200 };
      },
    });

    const ticket = tokenHandle(ctx, { authorizerAppId: AUTHORIZER_APPID, ticket: 'wx_card' });

    expect(ticket.appId).toBe(AUTHORIZER_APPID);
    expect(await ticket.peek()).toBeUndefined();
    expect(await ticket.serve()).toMatchObject({ accessToken: 'wx_card-access-1' });
    expect(await ticket.peek()).toMatchObject({ accessToken: 'wx_card-access-1' });
    expect(calls).toBe(1);
  });

  it('peeks nothing for a reported token no check has found alive', async () => {
    const { ctx } = await tokenContext();

    const token = tokenHandle(ctx, { authorizerAppId: AUTHORIZER_APPID });

    expect(await token.peek('access-1')).toBeUndefined();
  });

  it('throws the authorizer’s status errors from both', async () => {
    const { ctx } = await tokenContext();

    const token = tokenHandle(ctx, { authorizerAppId: 'wxunknown00000000' });

    await expect(token.serve()).rejects.toThrow(AuthorizerNotFoundError);
    await expect(token.peek()).rejects.toThrow(AuthorizerNotFoundError);
  });
});
