import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ALLOWED_PREFIXES,
  MAX_CALL_PAYLOAD_BYTES,
  parseWechatCallRequest,
  type WechatCallRequestOptions,
} from '../../../../shared/egress/wechat-call-request';
import {
  callerErrorCode,
  InvalidRequestError,
  PayloadTooLargeError,
} from '../../../../shared/errors';
import hostilePaths from '../../../fixtures/hostile-paths.json';
import {
  AUTHORIZER_APPID,
  COMPONENT_APPID,
  OTHER_COMPONENT_APPID,
} from '../../../support/test-ids';

const options: WechatCallRequestOptions = { componentAppId: COMPONENT_APPID };
const parse = (event: unknown, opts: WechatCallRequestOptions = options) =>
  parseWechatCallRequest(event, opts);
const authorizer = (fields: Record<string, unknown>) => ({
  authorizerAppId: AUTHORIZER_APPID,
  path: '/cgi-bin/message/custom/send',
  ...fields,
});
const component = (fields: Record<string, unknown>) => ({
  component: true,
  path: '/cgi-bin/component/getprivacysetting',
  ...fields,
});

/** The error `parse` throws, so its class and message can both be checked. */
function refusal(event: unknown, opts: WechatCallRequestOptions = options): Error {
  try {
    parse(event, opts);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the request to be refused');
}

// A multipart body as a caller would send it to /cgi-bin/media/upload.
const MULTIPART = Buffer.from(
  '--b1\r\nContent-Disposition: form-data; name="media"; filename="a.jpg"\r\n' +
    'Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n--b1--\r\n',
  'latin1'
).toString('base64');

describe('parseWechatCallRequest: good requests, parsed exactly', () => {
  it('an authorizer GET with its query, numbers and booleans as strings', () => {
    expect(
      parse({
        authorizerAppId: AUTHORIZER_APPID,
        path: '/cgi-bin/user/get',
        query: { next_openid: 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M', count: 100, lang: 'zh_CN', b: true },
      })
    ).toEqual({
      target: { authorizerAppId: AUTHORIZER_APPID },
      method: 'GET',
      path: '/cgi-bin/user/get',
      query: {
        next_openid: 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M',
        count: '100',
        lang: 'zh_CN',
        b: 'true',
      },
      tokenParam: 'access_token',
    });
  });

  it('an authorizer POST with a JSON body: the method defaults to POST', () => {
    const json = { touser: 'OPENID', msgtype: 'text', text: { content: '你好' } };
    expect(parse(authorizer({ body: json }))).toEqual({
      target: { authorizerAppId: AUTHORIZER_APPID },
      method: 'POST',
      path: '/cgi-bin/message/custom/send',
      query: {},
      body: { json },
      tokenParam: 'access_token',
    });
  });

  it('an explicit POST without a body has no body', () => {
    const parsed = parse(authorizer({ method: 'POST', path: '/wxa/get_category' }));
    expect(parsed).toEqual({
      target: { authorizerAppId: AUTHORIZER_APPID },
      method: 'POST',
      path: '/wxa/get_category',
      query: {},
      tokenParam: 'access_token',
    });
    expect('body' in parsed).toBe(false);
  });

  it('a component call puts its token in component_access_token by default', () => {
    expect(
      parse(
        component({ method: 'POST', body: { component_appid: COMPONENT_APPID, privacy_ver: 2 } })
      )
    ).toEqual({
      target: { component: true },
      method: 'POST',
      path: '/cgi-bin/component/getprivacysetting',
      query: {},
      body: { json: { component_appid: COMPONENT_APPID, privacy_ver: 2 } },
      tokenParam: 'component_access_token',
    });
  });

  it('a component call may ask for access_token (APIs that name the component token so)', () => {
    expect(
      parse({
        component: true,
        tokenParam: 'access_token',
        path: '/cgi-bin/component/fastregisterweapp',
        query: { action: 'search' },
        body: { name: 'x' },
      })
    ).toEqual({
      target: { component: true },
      method: 'POST',
      path: '/cgi-bin/component/fastregisterweapp',
      query: { action: 'search' },
      body: { json: { name: 'x' } },
      tokenParam: 'access_token',
    });
  });

  it('a component call may name component_access_token explicitly', () => {
    expect(
      parse(component({ tokenParam: 'component_access_token', path: '/sns/component/x' }))
    ).toMatchObject({ tokenParam: 'component_access_token', method: 'GET' });
  });

  it('an upload: base64 and its multipart content type, POST by default', () => {
    const contentType = 'multipart/form-data; boundary=b1';
    expect(
      parse(
        authorizer({
          path: '/cgi-bin/media/upload',
          query: { type: 'image' },
          bodyBase64: MULTIPART,
          contentType,
        })
      )
    ).toEqual({
      target: { authorizerAppId: AUTHORIZER_APPID },
      method: 'POST',
      path: '/cgi-bin/media/upload',
      query: { type: 'image' },
      body: { base64: MULTIPART, contentType },
      tokenParam: 'access_token',
    });
  });

  it.each([
    '/cgi-bin/message/custom/send',
    '/cgi-bin/component/getprivacysetting',
    '/cgi-bin/component/setprivacysetting',
    '/cgi-bin/tags/get',
    '/cgi-bin/media/get.jpg',
    '/wxa/getwxacodeunlimit',
    '/wxa/security/get_privacy_interface',
    '/sns/component/jscode2session',
    '/sns/oauth2/component/access_token',
    '/sns/oauth2/component/refresh_token',
    '/datacube/getusersummary',
    '/card/create',
    '/cgi-bin/a-b_c.d/e',
    '/cgi-bin/stable',
    '/cgi-bin/tickets',
    '/cgi-bin/component/apix',
    `/cgi-bin/${'a'.repeat(256 - '/cgi-bin/'.length)}`,
  ])('accepts %s, kept as sent', (path) => {
    expect(parse(authorizer({ path })).path).toBe(path);
  });

  it('allowedPrefixes replaces the default list', () => {
    const only = { componentAppId: COMPONENT_APPID, allowedPrefixes: ['/wxaapi/'] };
    expect(parse(authorizer({ path: '/wxaapi/newtmpl/gettemplate' }), only).path).toBe(
      '/wxaapi/newtmpl/gettemplate'
    );
    expect(refusal(authorizer({ path: '/cgi-bin/user/get' }), only)).toBeInstanceOf(
      InvalidRequestError
    );
    expect(refusal(authorizer({ path: '/wxaapi/newtmpl/gettemplate' }))).toBeInstanceOf(
      InvalidRequestError
    );
  });

  it('matches allowed prefixes case-sensitively (WeChat paths are lower case)', () => {
    expect(refusal(authorizer({ path: '/WXA/get_category' }))).toBeInstanceOf(InvalidRequestError);
  });

  it('the default prefixes are the documented six', () => {
    expect(DEFAULT_ALLOWED_PREFIXES).toEqual([
      '/cgi-bin/',
      '/wxa/',
      '/sns/component/',
      '/sns/oauth2/component/',
      '/datacube/',
      '/card/',
    ]);
  });
});

describe('parseWechatCallRequest: hostile paths (test/fixtures/hostile-paths.json)', () => {
  it('the corpus is large and its paths distinct', () => {
    expect(hostilePaths.length).toBeGreaterThanOrEqual(40);
    expect(new Set(hostilePaths.map((c) => c.path)).size).toBe(hostilePaths.length);
  });

  it.each(hostilePaths.map((c) => [c.why, c.path] as const))(
    'refuses %s for an authorizer and for the component',
    (_why, path) => {
      expect(refusal(authorizer({ path }))).toBeInstanceOf(InvalidRequestError);
      expect(refusal(component({ path }))).toBeInstanceOf(InvalidRequestError);
    }
  );

  it.each([
    '/cgi-bin/token',
    '/cgi-bin/stable_token',
    '/cgi-bin/ticket/getticket',
    '/cgi-bin/clear_quota',
    '/cgi-bin/component/clear_quota',
    '/cgi-bin/component/api_component_token',
    '/CGI-BIN/COMPONENT/API_AUTHORIZER_TOKEN',
  ])('refuses %s even when configuration allows every path', (path) => {
    const everything = { componentAppId: COMPONENT_APPID, allowedPrefixes: ['/'] };
    expect(refusal(authorizer({ path }), everything)).toBeInstanceOf(InvalidRequestError);
    expect(parse(authorizer({ path: '/anything/else' }), everything).path).toBe('/anything/else');
  });

  it.each([
    // Kept out of the JSON fixture: Vite's JSON loader refuses a lone surrogate escape.
    ['a lone surrogate', '/cgi-bin/\ud800'],
    ['missing', undefined],
    ['null', null],
    ['a number', 42],
    ['an array', ['/cgi-bin/user/get']],
    ['an object', { pathname: '/cgi-bin/user/get' }],
  ])('refuses a path that is %s', (_what, path) => {
    expect(refusal(authorizer({ path }))).toBeInstanceOf(InvalidRequestError);
  });

  it('never echoes the path, which may carry a secret', () => {
    for (const path of [
      '/cgi-bin/a?access_token=SECRET_TOKEN_1',
      '/cgi-bin/token/SECRET_TOKEN_1',
      '/other/SECRET_TOKEN_1',
      '/cgi-bin/SECRET_TOKEN_1%41',
      `/cgi-bin/SECRET_TOKEN_1${'a'.repeat(300)}`,
    ]) {
      expect(refusal(authorizer({ path })).message).not.toContain('SECRET_TOKEN_1');
    }
  });
});

describe('parseWechatCallRequest: the event, the target and the token parameter', () => {
  it.each([
    ['null', null],
    ['an array', [authorizer({})]],
    ['a string', JSON.stringify(authorizer({}))],
    ['a number', 42],
  ])('refuses an event that is %s', (_what, event) => {
    expect(refusal(event)).toBeInstanceOf(InvalidRequestError);
  });

  it('refuses unknown fields, naming them', () => {
    const error = refusal(authorizer({ url: 'https://evil.com', accessToken: 'x' }));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('unknown field(s): "url", "accessToken"');
  });

  it.each([
    ['both targets', { authorizerAppId: AUTHORIZER_APPID, component: true }],
    ['no target', {}],
    ['component not true', { component: 'true' }],
    ['component false', { component: false }],
    ['an invalid appid', { authorizerAppId: 'wx123' }],
    ['a non-string appid', { authorizerAppId: 12345 }],
    ['an appid with punctuation', { authorizerAppId: 'wx_placeholder_appid' }],
  ])('refuses %s', (_what, target) => {
    expect(refusal({ path: '/cgi-bin/user/get', ...target })).toBeInstanceOf(InvalidRequestError);
  });

  it.each(['access_token', 'component_access_token'])(
    'refuses tokenParam %s for an authorizer: its token is always access_token',
    (tokenParam) => {
      expect(refusal(authorizer({ tokenParam }))).toBeInstanceOf(InvalidRequestError);
    }
  );

  it.each(['ACCESS_TOKEN', 'token', 'authorizer_access_token', '', null, true])(
    'refuses tokenParam %s for the component',
    (tokenParam) => {
      expect(refusal(component({ tokenParam }))).toBeInstanceOf(InvalidRequestError);
    }
  );

  it('refuses a request that is not plain JSON', () => {
    const circular: Record<string, unknown> = authorizer({});
    circular.query = circular;
    expect(refusal(circular)).toBeInstanceOf(InvalidRequestError);
    expect(refusal(authorizer({ query: { n: 1n } }))).toBeInstanceOf(InvalidRequestError);
    expect(refusal({ toJSON: () => undefined })).toBeInstanceOf(InvalidRequestError);
  });
});

describe('parseWechatCallRequest: method and body', () => {
  it.each([
    ['a lower-case method', { method: 'get' }],
    ['PUT', { method: 'PUT' }],
    ['a non-string method', { method: 1 }],
    ['GET with a JSON body', { method: 'GET', body: { a: 1 } }],
    [
      'GET with an upload',
      { method: 'GET', bodyBase64: MULTIPART, contentType: 'multipart/form-data; boundary=b1' },
    ],
    [
      'a JSON body and an upload',
      { body: { a: 1 }, bodyBase64: MULTIPART, contentType: 'multipart/form-data; boundary=b1' },
    ],
    ['a body and a contentType', { body: { a: 1 }, contentType: 'application/json' }],
    ['a null body', { body: null }],
    ['an array body', { body: [1, 2] }],
    ['a string body', { body: '{"a":1}' }],
    ['a number body', { body: 1 }],
  ])('refuses %s', (_what, fields) => {
    expect(refusal(authorizer(fields))).toBeInstanceOf(InvalidRequestError);
  });

  it('never echoes the body', () => {
    const error = refusal(authorizer({ method: 'GET', body: { secret: 'SECRET_BODY_1' } }));
    expect(error.message).not.toContain('SECRET_BODY_1');
  });
});

describe('parseWechatCallRequest: uploads', () => {
  const upload = (bodyBase64: unknown, contentType: unknown = 'multipart/form-data; boundary=b1') =>
    authorizer({ path: '/cgi-bin/media/upload', bodyBase64, contentType });

  it.each([
    ['empty', ''],
    ['unpadded', 'QQ'],
    ['over-padded', 'QQ==='],
    ['with a space', 'QUJD REVG'],
    ['with a newline', 'QUJD\nREVG'],
    ['URL-safe', 'a-_b'],
    ['non-canonical (unused bits set)', 'QR=='],
    ['padding inside', 'QQ==QUJD'],
    ['not base64 at all', 'hello world!'],
    ['a number', 1234],
  ])('refuses bodyBase64 that is %s', (_what, bodyBase64) => {
    expect(refusal(upload(bodyBase64))).toBeInstanceOf(InvalidRequestError);
  });

  it.each(['QUJD', 'QUI=', 'QQ==', '+/+/'])('accepts canonical base64 %s', (bodyBase64) => {
    expect(parse(upload(bodyBase64, 'application/octet-stream')).body).toEqual({
      base64: bodyBase64,
      contentType: 'application/octet-stream',
    });
  });

  it.each([
    'multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW',
    'multipart/form-data;boundary="a:b=c d"',
    'multipart/form-data; charset=utf-8; boundary=x',
    'image/jpeg',
    'application/octet-stream',
    'text/plain; charset=UTF-8',
    'video/mp4',
  ])('accepts contentType %s', (contentType) => {
    expect(parse(upload(MULTIPART, contentType)).body).toEqual({ base64: MULTIPART, contentType });
  });

  it.each([
    ['empty', ''],
    ['not a MIME type', 'jpeg'],
    ['multipart without a boundary', 'multipart/form-data'],
    ['multipart with an empty parameter list', 'multipart/form-data;'],
    ['with CRLF (header injection)', 'multipart/form-data; boundary=x\r\nX-Evil: 1'],
    ['with a NUL', 'image/jpeg\u0000'],
    ['with non-ASCII', 'image/jpég'],
    ['with an unterminated quote', 'multipart/form-data; boundary="x'],
    ['a parameter without a value', 'text/plain; charset'],
    ['leading space', ' image/jpeg'],
    ['201 characters', `multipart/form-data; boundary=${'x'.repeat(201 - 30)}`],
    ['a number', 1],
  ])('refuses contentType %s', (_what, contentType) => {
    expect(refusal(upload(MULTIPART, contentType))).toBeInstanceOf(InvalidRequestError);
  });

  it('accepts a contentType of 200 characters', () => {
    const contentType = `multipart/form-data; boundary=${'x'.repeat(200 - 30)}`;
    expect(contentType).toHaveLength(200);
    expect(parse(upload(MULTIPART, contentType)).body).toEqual({ base64: MULTIPART, contentType });
  });

  it('refuses bodyBase64 without a contentType', () => {
    expect(
      refusal(authorizer({ path: '/cgi-bin/media/upload', bodyBase64: MULTIPART }))
    ).toBeInstanceOf(InvalidRequestError);
  });

  it('refuses a contentType without bodyBase64', () => {
    expect(refusal(authorizer({ contentType: 'multipart/form-data; boundary=b1' }))).toBeInstanceOf(
      InvalidRequestError
    );
  });
});

describe('parseWechatCallRequest: query', () => {
  const withQuery = (query: unknown) => authorizer({ path: '/cgi-bin/user/info', query });

  it('keeps up to 50 parameters', () => {
    const query = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, `${i}`]));
    expect(parse(withQuery(query)).query).toEqual(query);
  });

  it('refuses 51 parameters', () => {
    const query = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, `${i}`]));
    expect(refusal(withQuery(query))).toBeInstanceOf(InvalidRequestError);
  });

  it('keeps a 64-character name, a 2048-character value and an empty value', () => {
    const query = { ['n'.repeat(64)]: 'v'.repeat(2048), empty: '', zero: 0, no: false };
    expect(parse(withQuery(query)).query).toEqual({
      ['n'.repeat(64)]: 'v'.repeat(2048),
      empty: '',
      zero: '0',
      no: 'false',
    });
  });

  it.each([
    ['an array', ['openid']],
    ['null', null],
    ['a string', 'openid=x'],
    ['an empty name', { '': 'x' }],
    ['a 65-character name', { ['n'.repeat(65)]: 'x' }],
    ['a name with -', { 'a-b': 'x' }],
    ['a name with a space', { 'a b': 'x' }],
    ['a name with [ ]', { 'a[]': 'x' }],
    ['a non-ASCII name', { ä: 'x' }],
    ['a 2049-character value', { openid: 'v'.repeat(2049) }],
    ['a null value', { openid: null }],
    ['an object value', { openid: { a: 1 } }],
    ['an array value', { openid: ['a', 'b'] }],
    ['NaN', { count: Number.NaN }],
    ['Infinity', { count: Number.POSITIVE_INFINITY }],
    ['a NUL in a value', { openid: 'a\u0000b' }],
    ['a newline in a value', { openid: 'a\nb' }],
    ['a lone surrogate in a value', { openid: 'a\ud800' }],
  ])('refuses %s', (_what, query) => {
    expect(refusal(withQuery(query))).toBeInstanceOf(InvalidRequestError);
  });

  it.each([
    'access_token',
    'ACCESS_TOKEN',
    'Access_Token',
    'component_access_token',
    'COMPONENT_ACCESS_TOKEN',
  ])('refuses %s: the service sets the token, without echoing the value', (key) => {
    const error = refusal(withQuery({ [key]: 'SECRET_TOKEN_2' }));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).not.toContain('SECRET_TOKEN_2');
    expect(refusal(component({ query: { [key]: 'x' } }))).toBeInstanceOf(InvalidRequestError);
  });

  it('never echoes a query value', () => {
    for (const query of [
      { openid: `SECRET_VALUE_3${'v'.repeat(2048)}` },
      { openid: 'SECRET_VALUE_3\u0000' },
    ]) {
      expect(refusal(withQuery(query)).message).not.toContain('SECRET_VALUE_3');
    }
  });

  it('keeps a __proto__ parameter as a plain parameter', () => {
    const query = JSON.parse('{"__proto__":"x","openid":"o"}');
    const parsed = parse(withQuery(query)).query;
    expect(Object.keys(parsed)).toEqual(['__proto__', 'openid']);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('parseWechatCallRequest: component_appid', () => {
  it('keeps ours in the query of a component call', () => {
    expect(
      parse(
        component({
          path: '/sns/oauth2/component/access_token',
          query: { appid: AUTHORIZER_APPID, code: 'CODE', component_appid: COMPONENT_APPID },
        })
      )
    ).toEqual({
      target: { component: true },
      method: 'GET',
      path: '/sns/oauth2/component/access_token',
      query: { appid: AUTHORIZER_APPID, code: 'CODE', component_appid: COMPONENT_APPID },
      tokenParam: 'component_access_token',
    });
  });

  it('keeps ours in the JSON body', () => {
    expect(parse(component({ body: { component_appid: COMPONENT_APPID } })).body).toEqual({
      json: { component_appid: COMPONENT_APPID },
    });
  });

  it('does not add it when absent', () => {
    const parsed = parse(component({ query: { a: '1' }, body: { b: 2 } }));
    expect(parsed.query).toEqual({ a: '1' });
    expect(parsed.body).toEqual({ json: { b: 2 } });
  });

  it.each([
    ['another platform in the query', { query: { component_appid: OTHER_COMPONENT_APPID } }],
    ['another platform in the body', { body: { component_appid: OTHER_COMPONENT_APPID } }],
    ['ours in upper case', { query: { component_appid: COMPONENT_APPID.toUpperCase() } }],
    ['an empty one', { query: { component_appid: '' } }],
    ['a number in the body', { body: { component_appid: 1 } }],
    ['null in the body', { body: { component_appid: null } }],
    ['another under a case-variant name', { query: { COMPONENT_APPID: OTHER_COMPONENT_APPID } }],
    [
      'ours in the query, another in the body',
      {
        query: { component_appid: COMPONENT_APPID },
        body: { component_appid: OTHER_COMPONENT_APPID },
      },
    ],
  ])('refuses %s', (_what, fields) => {
    expect(refusal(component(fields))).toBeInstanceOf(InvalidRequestError);
    expect(refusal(authorizer(fields))).toBeInstanceOf(InvalidRequestError);
  });

  it('checks the authorizer calls too', () => {
    expect(parse(authorizer({ query: { component_appid: COMPONENT_APPID } })).query).toEqual({
      component_appid: COMPONENT_APPID,
    });
  });
});

describe('parseWechatCallRequest: size', () => {
  // The JSON of authorizer({ body: { data } }) around a string of n bytes.
  const overhead = Buffer.byteLength(JSON.stringify(authorizer({ body: { data: '' } })));

  it('accepts a request of exactly MAX_CALL_PAYLOAD_BYTES', () => {
    const data = 'x'.repeat(MAX_CALL_PAYLOAD_BYTES - overhead);
    const event = authorizer({ body: { data } });
    expect(Buffer.byteLength(JSON.stringify(event))).toBe(MAX_CALL_PAYLOAD_BYTES);
    expect(parse(event).body).toEqual({ json: { data } });
  });

  it('refuses one byte more with PayloadTooLargeError, without echoing the body', () => {
    const data = `SECRET_BODY_4${'x'.repeat(MAX_CALL_PAYLOAD_BYTES - overhead - 12)}`;
    const error = refusal(authorizer({ body: { data } }));
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error.message).not.toContain('SECRET_BODY_4');
    expect(callerErrorCode(error)).toBe('payload_too_large');
  });

  it('counts UTF-8 bytes, not characters', () => {
    const data = '中'.repeat(Math.ceil(MAX_CALL_PAYLOAD_BYTES / 3));
    expect(data.length).toBeLessThan(MAX_CALL_PAYLOAD_BYTES);
    expect(refusal(authorizer({ body: { data } }))).toBeInstanceOf(PayloadTooLargeError);
  });

  it('refuses an upload whose request is over the limit', () => {
    const bodyBase64 = Buffer.alloc(Math.ceil((MAX_CALL_PAYLOAD_BYTES * 3) / 4) + 3).toString(
      'base64'
    );
    expect(
      refusal(
        authorizer({
          path: '/cgi-bin/media/upload',
          bodyBase64,
          contentType: 'multipart/form-data; boundary=b1',
        })
      )
    ).toBeInstanceOf(PayloadTooLargeError);
  });

  it('measures the size before anything else', () => {
    const event = { path: '//evil', junk: 'x'.repeat(MAX_CALL_PAYLOAD_BYTES) };
    expect(refusal(event)).toBeInstanceOf(PayloadTooLargeError);
  });
});
