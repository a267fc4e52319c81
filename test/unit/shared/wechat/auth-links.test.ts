import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../../shared/errors';
import { buildAuthorizeLinks, parseAuthorizeOptions } from '../../../../shared/wechat/auth-links';
import { COMPONENT_APPID } from '../../../support/test-ids';

describe('parseAuthorizeOptions', () => {
  it('defaults to auth_type 3 (official accounts and mini programs)', () => {
    expect(parseAuthorizeOptions({})).toEqual({ authType: 3 });
  });

  it('accepts every documented auth_type, biz_appid and a |-separated category_id_list', () => {
    for (const type of ['1', '2', '3', '4', '5', '6', '8']) {
      expect(parseAuthorizeOptions({ auth_type: type }).authType).toBe(Number(type));
    }
    expect(
      parseAuthorizeOptions({
        auth_type: '2',
        biz_appid: 'wxf8b4f85f3a794e77',
        category_id_list: '1|2|2|18',
      })
    ).toEqual({ authType: 2, bizAppId: 'wxf8b4f85f3a794e77', categoryIds: [1, 2, 18] });
  });

  it.each([
    ['auth_type', { auth_type: '7' }],
    ['auth_type', { auth_type: '3<script>' }],
    ['auth_type', { auth_type: '-1' }],
    ['biz_appid', { biz_appid: '"><script>alert(1)</script>' }],
    ['biz_appid', { biz_appid: 'gh_123' }],
    ['category_id_list', { category_id_list: '1|x' }],
    ['category_id_list', { category_id_list: '1||2' }],
    ['category_id_list', { category_id_list: `${'1|'.repeat(100)}1` }],
  ])('rejects a bad %s and names it without echoing the value', (name, query) => {
    try {
      parseAuthorizeOptions(query as Record<string, string>);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect((error as Error).message).toContain(name);
      expect((error as Error).message).not.toContain('<script>');
    }
  });
});

describe('buildAuthorizeLinks', () => {
  const links = buildAuthorizeLinks({
    componentAppId: COMPONENT_APPID,
    preAuthCode: 'preauthcode@@@abc',
    redirectUri: 'https://auth.example.com/authorize/callback?tenant=a&x=1',
    options: { authType: 1, bizAppId: 'wxf8b4f85f3a794e77', categoryIds: [1, 2] },
  });

  it('builds the PC QR-code link with an encoded redirect_uri', () => {
    const url = new URL(links.pc);
    expect(`${url.origin}${url.pathname}`).toBe(
      'https://mp.weixin.qq.com/cgi-bin/componentloginpage'
    );
    expect(links.pc).toContain(
      'redirect_uri=https%3A%2F%2Fauth.example.com%2Fauthorize%2Fcallback%3Ftenant%3Da%26x%3D1'
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      component_appid: COMPONENT_APPID,
      pre_auth_code: 'preauthcode@@@abc',
      redirect_uri: 'https://auth.example.com/authorize/callback?tenant=a&x=1',
      auth_type: '1',
      biz_appid: 'wxf8b4f85f3a794e77',
      category_id_list: '1|2',
    });
  });

  it('builds the new H5 link on open.weixin.qq.com ending in #wechat_redirect', () => {
    const url = new URL(links.h5);
    expect(`${url.origin}${url.pathname}`).toBe(
      'https://open.weixin.qq.com/wxaopen/safe/bindcomponent'
    );
    expect(url.hash).toBe('#wechat_redirect');
    expect(url.searchParams.get('action')).toBe('bindcomponent');
    expect(url.searchParams.get('no_scan')).toBe('1');
    expect(url.searchParams.get('pre_auth_code')).toBe('preauthcode@@@abc');
    expect(url.searchParams.getAll('auth_type')).toEqual(['1']);
  });
});
