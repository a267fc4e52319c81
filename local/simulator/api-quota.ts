import { type ApiName, ApiPath, type ApiQuotaResponse } from '../../shared/wechat/wire';
import { type CallerApiName, CallerApiPath, TICKET_TYPES } from './caller-paths';
import { fail } from './errcodes';
import { PER_AUTHORIZER_QUOTA } from './rules';
import type { TokenOwner, WechatState } from './state';

/**
 * `getApiQuota` (查询openApi调用quota): after the whitelist and the method, WeChat's checks in its order
 * (token, JSON body, daily quota, `cgi_path`), then the daily limit and today's calls of the API at
 * `cgi_path` for the account whose token asks.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 * @see ../../docs/wechat-protocol.md §2.8 and §7.4
 */

type Account = TokenOwner['kind'];

/** A path getApiQuota knows: which accounts' tokens may ask about it, and its numbers for the asker. */
interface KnownPath {
  readonly accounts: readonly Account[];
  dailyLimit(state: WechatState): number;
  used(state: WechatState, owner: TokenOwner): number;
}

/**
 * A component API (component_access_token only). A per-authorizer quota has no one platform figure: the
 * simulator answers the busiest authorizer's, the one nearest its 45009.
 */
const componentApi = (api: ApiName): KnownPath => ({
  accounts: ['component'],
  dailyLimit: (state) => state.rules.dailyQuota[api],
  used: (state) =>
    PER_AUTHORIZER_QUOTA.has(api) ? state.busiestQuotaUsed(api) : state.quotaUsed(api),
});

const ownerAppId = (owner: TokenOwner) =>
  owner.kind === 'authorizer' ? owner.authorizerAppId : undefined;

/**
 * One of the callers' APIs an authorizer's token calls (authorizer tokens only), each account its own
 * count. getticket counts each ticket type apart: the answer is the type nearest its 45009.
 */
const authorizerApi = (api: Exclude<CallerApiName, 'thirdpartyCode2Session'>): KnownPath => ({
  accounts: ['authorizer'],
  dailyLimit: (state) => state.rules.dailyQuota[api],
  used: (state, owner) =>
    api === 'getTicket'
      ? Math.max(
          ...TICKET_TYPES.map((type) => state.quotaUsed(api, ownerAppId(owner), undefined, type))
        )
      : state.quotaUsed(api, ownerAppId(owner)),
});

/**
 * The paths the simulator knows: getApiQuota itself (either token, each account its own count), the
 * component APIs it serves, and the callers' authorizer-token APIs (so that a component token is refused
 * them); jscode2session is a `/sns/` path, which getApiQuota never covers.
 */
const KNOWN_PATHS: ReadonlyMap<string, KnownPath> = new Map<string, KnownPath>([
  ...(Object.keys(ApiPath) as ApiName[])
    .filter((api) => api !== 'getApiQuota')
    .map((api): [string, KnownPath] => [ApiPath[api], componentApi(api)]),
  [
    ApiPath.getApiQuota,
    {
      accounts: ['component', 'authorizer'],
      dailyLimit: (state) => state.rules.dailyQuota.getApiQuota,
      used: (state, owner) => state.quotaUsed('getApiQuota', ownerAppId(owner)),
    },
  ],
  ...(['getTicket', 'getUserInfo', 'sendCustomMessage', 'getUnlimitedQRCode'] as const).map(
    (api): [string, KnownPath] => [CallerApiPath[api], authorizerApi(api)]
  ),
]);

/**
 * The answer to one getApiQuota call (whitelist and method already checked); throws `ApiFailure`. The call
 * itself is counted before the answer, so asking about getApiQuota includes this call in `used`.
 */
export function answerApiQuota(
  query: Record<string, string>,
  json: Record<string, unknown> | undefined,
  state: WechatState
): { errcode: 0; errmsg: 'ok' } & ApiQuotaResponse {
  const owner = state.checkAccessToken(query.access_token);
  const body = json ?? fail(47001);
  state.countCall('getApiQuota', ownerAppId(owner));
  const known = knownPath(body.cgi_path, owner);
  const dailyLimit = known.dailyLimit(state);
  const used = known.used(state, owner);
  return {
    errcode: 0,
    errmsg: 'ok',
    quota: { daily_limit: dailyLimit, used, remain: Math.max(0, dailyLimit - used) },
  };
}

/**
 * 47001 not a string, 76003 not starting with `/` (e.g. with the origin in front), 76021 unknown, 76022
 * another account's API or a `/sns/` path (the page says getApiQuota never covers those).
 */
function knownPath(path: unknown, owner: TokenOwner): KnownPath {
  if (typeof path !== 'string') fail(47001);
  if (!path.startsWith('/')) fail(76003, 'cgi_path must start with / and carry no origin');
  if (path.includes('/sns/')) fail(76022);
  const known = KNOWN_PATHS.get(path) ?? fail(76021);
  if (!known.accounts.includes(owner.kind)) fail(76022);
  return known;
}
