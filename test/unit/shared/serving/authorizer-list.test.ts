import { describe, expect, it } from 'vitest';
import { WechatUnavailableError } from '../../../../shared/errors';
import { AUTHORIZER_LIST_PAGE } from '../../../../shared/policy';
import { findListedAuthorizer, listPageSize } from '../../../../shared/serving/authorizer-list';
import type { AuthorizerListResponse } from '../../../../shared/wechat/wire';
import { authorizerAppId } from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

const ids = [authorizerAppId(11), authorizerAppId(12), authorizerAppId(13)];
const entry = (appId: string) => ({
  authorizer_appid: appId,
  refresh_token: `rt-${appId}`,
  auth_time: 1,
});

/** A fake list over `listed` that records each page asked for; `change` runs before the second page. */
function pagedList(listed: string[], change?: () => void) {
  const pages: { offset: number; count: number }[] = [];
  const apiGetAuthorizerList = async (
    _ct: string,
    offset: number,
    count: number
  ): Promise<AuthorizerListResponse> => {
    pages.push({ offset, count });
    if (offset > 0) change?.();
    return { total_count: listed.length, list: listed.slice(offset, offset + count).map(entry) };
  };
  return { pages, apiGetAuthorizerList };
}

describe('findListedAuthorizer: only a complete, consistent listing says "not listed"', () => {
  it('pages by WeChat’s maximum unless the context sets fewer', async () => {
    const { ctx } = await tokenContext();
    expect(listPageSize(ctx)).toBe(AUTHORIZER_LIST_PAGE);
    expect(listPageSize({ listPageSize: 2 })).toBe(2);
  });

  it('reads page after page of the context’s size until it finds the authorizer', async () => {
    const list = pagedList(ids);
    const { ctx } = await tokenContext({ apiGetAuthorizerList: list.apiGetAuthorizerList });
    const found = await findListedAuthorizer({ ...ctx, listPageSize: 2 }, authorizerAppId(13));
    expect(found).toEqual(entry(authorizerAppId(13)));
    expect(list.pages).toEqual([
      { offset: 0, count: 2 },
      { offset: 2, count: 2 },
    ]);
  });

  it('answers "not listed" after every page of a listing that kept its count', async () => {
    const list = pagedList(ids);
    const { ctx } = await tokenContext({ apiGetAuthorizerList: list.apiGetAuthorizerList });
    expect(await findListedAuthorizer({ ...ctx, listPageSize: 2 }, 'wxunknown00000001')).toBe(
      undefined
    );
    expect(list.pages).toHaveLength(2);
  });

  it('refuses a verdict when the count changed between pages', async () => {
    const listed = [...ids];
    const list = pagedList(listed, () => listed.shift());
    const { ctx } = await tokenContext({ apiGetAuthorizerList: list.apiGetAuthorizerList });
    await expect(
      findListedAuthorizer({ ...ctx, listPageSize: 2 }, 'wxunknown00000001')
    ).rejects.toBeInstanceOf(WechatUnavailableError);
  });
});
