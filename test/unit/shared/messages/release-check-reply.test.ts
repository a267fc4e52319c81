import { describe, expect, it } from 'vitest';
import type { RelayRequest } from '../../../../shared/egress/wechat-relay';
import { parseRefreshJob } from '../../../../shared/jobs/job-contract';
import { sendReleaseCheckReply } from '../../../../shared/messages/release-check-reply';
import { COMPONENT_APPID } from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

const TEST_ACCOUNT = 'wx570bc396a51b8ff8';
const CODE = `queryauthcode@@@${'Q'.repeat(40)}`;
const FAN = 'ozy4qt1eDxSxzYr0aNtthMp9hpQo';

async function setup(errcode = 0) {
  const calls: string[] = [];
  const sent: RelayRequest[] = [];
  const ctx = await tokenContext({
    apiQueryAuth: async (_componentToken, code) => {
      calls.push(`apiQueryAuth ${code}`);
      return {
        authorization_info: {
          authorizer_appid: TEST_ACCOUNT,
          authorizer_access_token: 'test-account-token',
          expires_in: 7200,
          authorizer_refresh_token: 'test-account-refresh',
          func_info: [1].map((id) => ({ funcscope_category: { id } })),
        },
      };
    },
  });
  const relay = {
    async send(request: RelayRequest) {
      sent.push(request);
      return { status: 200, contentType: 'application/json', body: { errcode }, errcode };
    },
  };
  return { ...ctx, calls, sent, relay };
}

describe('the release check’s customer-service answer', () => {
  it('stores and exchanges the code, then sends <code>_from_api to the fan with the token it got', async () => {
    const { ctx, store, calls, sent, relay } = await setup();
    const job = parseRefreshJob({
      job: 'release-check-reply',
      authorizerAppId: TEST_ACCOUNT,
      queryAuthCode: CODE,
      toUser: FAN,
    });
    expect(job.job).toBe('release-check-reply');
    expect(await sendReleaseCheckReply(ctx, relay, job as never)).toEqual({ errcode: 0 });
    expect(calls).toEqual([`apiQueryAuth ${CODE}`]);
    expect(sent).toEqual([
      {
        method: 'POST',
        path: '/cgi-bin/message/custom/send',
        query: { access_token: 'test-account-token' },
        body: { json: { touser: FAN, msgtype: 'text', text: { content: `${CODE}_from_api` } } },
      },
    ]);
    expect((await store.getAuthCode(COMPONENT_APPID, CODE))?.status).toBe('exchanged');
  });

  it('returns WeChat’s errcode when the message is refused', async () => {
    const { ctx, relay } = await setup(45015);
    const job = {
      job: 'release-check-reply',
      authorizerAppId: TEST_ACCOUNT,
      queryAuthCode: CODE,
      toUser: FAN,
    } as const;
    expect(await sendReleaseCheckReply(ctx, relay, job)).toEqual({ errcode: 45015 });
  });
});

describe('the release-check-reply job payload', () => {
  const valid = {
    job: 'release-check-reply',
    authorizerAppId: TEST_ACCOUNT,
    queryAuthCode: CODE,
    toUser: FAN,
  };
  it.each([
    [
      'a real account',
      { ...valid, authorizerAppId: 'wx1234567890abcdef' },
      'release-check accounts',
    ],
    ['no code', { ...valid, queryAuthCode: undefined }, 'queryAuthCode'],
    ['a code with spaces', { ...valid, queryAuthCode: 'a b' }, 'queryAuthCode'],
    ['an openid with a slash', { ...valid, toUser: 'o/1' }, 'toUser'],
    ['an unknown field', { ...valid, content: 'hi' }, 'unknown field'],
  ])('refuses %s', (_name, payload, message) => {
    expect(() => parseRefreshJob(payload)).toThrow(
      expect.objectContaining({
        code: 'invalid_request',
        message: expect.stringContaining(message),
      })
    );
  });
});
