import { Simulator } from './simulator';
import type { SimulatorOptions, WechatSimulator } from './types';

/**
 * A local WeChat for the sandbox, the integration/e2e/reliability tests and the benchmarks: WeChat's side of
 * a third-party platform, as strict as WeChat by default (superseded tokens die 5 minutes later, lost
 * answers, no tokens without API permission, 61003 after a revocation, daily quotas, nested pushes, an IP
 * whitelist by source address when `whitelist` is set), on its own clock and with its own message crypto.
 * Only `node:http`, bound to 127.0.0.1.
 *
 * Layout: `state.ts` (data and rules, no HTTP; the whitelist check), `lifetimes.ts` (when tokens and
 * tickets die), `api.ts` (component API handlers), `api-quota.ts` (getApiQuota), `caller-paths.ts` +
 * `caller-api.ts` + `callers.ts` (the APIs callers of our tokens use: getticket, user/info, custom
 * messages, getwxacodeunlimit, jscode2session; followers, login codes, JS-SDK tickets), `pages.ts`
 * (authorization page, confirm, revocation route), `pushes.ts` + `courier.ts` + `crypto.ts` + `xml.ts`
 * (sealed pushes and their deliveries again, own WXBizMsgCrypt, payload XML and the strict reader),
 * `messages.ts` + `message-kinds.ts` + `passive-reply.ts` (fans' messages and events to the message URL,
 * their catalogue, the passive replies judged), `release-check.ts` (全网发布接入检测), `server.ts` +
 * `faults.ts` + `http.ts` (routing, injected faults), `errcodes.ts` (errmsg and rid), `rules.ts` (what is
 * enforced, and the defaults), `types.ts` (public types), `simulator.ts` (the facade).
 *
 * @see ../../docs/wechat-protocol.md §2–§7, §11 and §13
 */

export {
  type CallerApiName,
  CallerApiPath,
  type SimulatedApi,
  TICKET_TYPES,
  type TicketType,
} from './caller-paths';
export {
  kindsFor,
  MESSAGE_KINDS,
  type MessageDraw,
  type MessageKind,
  type MessageKindName,
  opensServiceWindow,
} from './message-kinds';
export {
  QUERY_AUTH_CODE_PREFIX,
  RELEASE_CHECK_ACCOUNTS,
  type ReleaseCheckAccount,
  TEST_TEXT,
} from './release-check';
export { DEFAULT_DAILY_QUOTA, DEFAULT_RULES, type Rules, type SimulatorRules } from './rules';
export { originalId } from './state';
export type {
  AccountType,
  AuthorizerView,
  CallName,
  CallRecord,
  CustomMessageRecord,
  Fault,
  MessageAnswer,
  MessageFields,
  MessageRecord,
  PassiveReply,
  PushAnswer,
  PushFields,
  PushRecord,
  PushValue,
  ReleaseCheckReport,
  ReleaseCheckStep,
  SimulatorOptions,
  SimulatorState,
  TokenStatus,
  TokenView,
  WechatSimulator,
} from './types';

/**
 * Starts a simulator on 127.0.0.1 (ephemeral port unless `port` is given). See {@link WechatSimulator}.
 *
 * @throws ConfigError when `token` or `encodingAesKey` is unusable, or a `whitelist` entry is no IP.
 */
export async function startWechatSimulator(options: SimulatorOptions): Promise<WechatSimulator> {
  const simulator = new Simulator(options);
  await simulator.start();
  return simulator;
}
