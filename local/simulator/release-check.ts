import { MESSAGE_KINDS } from './message-kinds';
import type { WechatState } from './state';
import type {
  AccountType,
  CallRecord,
  MessageFields,
  MessageRecord,
  PushAnswer,
  ReleaseCheckReport,
  ReleaseCheckStep,
} from './types';

/**
 * The release check (全网发布接入检测) as WeChat runs it when the platform asks to be released: the
 * ticket push must be answered `success`; then WeChat authorizes its own test accounts to the platform and,
 * as a fan of each, checks the message URL's answers: an event answered with the passive text reply
 * `<Event>from_callback`, the text `TESTCOMPONENT_MSG_TYPE_TEXT` with `TESTCOMPONENT_MSG_TYPE_TEXT_callback`,
 * and `QUERY_AUTH_CODE:<code>` with an empty answer within 5 s, then, within 10 s, the customer-service
 * message `<code>_from_api` sent to the fan with a token from exchanging that code (api_query_auth). The
 * first customer-service message to reach the fan is the one judged, as the fan sees it.
 *
 * The simulator's choices where the page leaves room: it uses the first of WeChat's five groups of test
 * accounts; WeChat's own `authorized` push and its code count as taken up when the code is exchanged or,
 * for an account the service already holds, when the service reads it with api_get_authorizer_info
 * (protocol §11.12: a held account's pushed code is settled that way, not exchanged); the official
 * account's event is `LOCATION`, the mini program's `user_enter_tempsession` (its customer-service
 * event), each with the same text and query_auth_code steps; messages of the check are not delivered
 * again, so that each step ends within its time.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/operation/thirdparty/releases_instructions.html
 * @see ../../docs/wechat-protocol.md §13
 */

/** One of WeChat's test accounts and what the check sends it. */
export interface ReleaseCheckAccount {
  readonly appId: string;
  /** Its original id, as the release page lists it. */
  readonly userName: string;
  readonly accountType: AccountType;
  /** Permission sets it grants: message management (1) for the official account, customer service (19). */
  readonly funcIds: readonly number[];
  readonly event: MessageFields;
}

/** The first group of WeChat's release-check accounts (the release page's table). */
export const RELEASE_CHECK_ACCOUNTS: readonly ReleaseCheckAccount[] = [
  {
    appId: 'wx570bc396a51b8ff8',
    userName: 'gh_3c884a361561',
    accountType: 'official_account',
    funcIds: [1, 2, 3],
    event: MESSAGE_KINDS.LOCATION.build(),
  },
  {
    appId: 'wxd101a85aa106f53e',
    userName: 'gh_8dad206e9538',
    accountType: 'mini_program',
    funcIds: [17, 18, 19],
    event: MESSAGE_KINDS.user_enter_tempsession.build(),
  },
];

/** The text whose passive reply the check expects with `_callback` appended. */
export const TEST_TEXT = 'TESTCOMPONENT_MSG_TYPE_TEXT';
/** The prefix of the text that carries the query_auth_code. */
export const QUERY_AUTH_CODE_PREFIX = 'QUERY_AUTH_CODE:';
/** The test accounts' fan (a name; its openid is per account). */
const FAN = 'release-check-fan';
/** How long the service has to take up the authorization code WeChat pushed. */
const AUTHORIZED_WAIT_MS = 5000;
/** How long after the empty answer the customer-service message may take. */
const CUSTOM_MESSAGE_WAIT_MS = 10_000;
const POLL_MS = 50;

/** What the check needs from the simulator around it. */
export interface ReleaseCheckContext {
  readonly state: WechatState;
  readonly calls: readonly CallRecord[];
  pushTicket(): Promise<PushAnswer>;
  /** Authorizes `account` afresh (a new refresh token) and returns the new auth code; no push. */
  authorize(account: ReleaseCheckAccount): string;
  /** The `authorized` push carrying `authCode`, as the authorization page sends it. */
  pushAuthorized(authCode: string): Promise<PushAnswer>;
  sendMessage(
    authorizerAppId: string,
    fields: MessageFields,
    options: { user: string; retry: false }
  ): Promise<MessageRecord>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 50 ms until it gives a value or `ms` (real time) have passed. */
async function poll<T>(probe: () => T | undefined, ms: number): Promise<T | undefined> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined || performance.now() >= deadline) return value;
    await sleep(POLL_MS);
  }
}

const successful = (push: PushAnswer) => push.status === 200 && push.body === 'success';

function describePush(push: PushAnswer): string {
  if (push.status === 0) return 'not answered';
  return `answered HTTP ${push.status} with ${push.body === '' ? 'an empty body' : 'something else than success'}`;
}

/** What the service answered a message, in the console's words (the reply's text is the service's). */
function describeAnswer(record: MessageRecord): string {
  switch (record.answer) {
    case 'unsent':
      return `not sent: ${record.error}`;
    case 'no_answer':
      return `no answer within 5 s (${record.error})`;
    case 'http_error':
      return `answered HTTP ${record.status}`;
    case 'empty':
      return `answered ${record.body === '' ? 'an empty string' : 'success'}: no reply`;
    case 'reply':
      return `replied ${record.reply?.MsgType} ${JSON.stringify(record.reply?.Content ?? '')}`;
    default:
      return `reply refused: ${record.replyError}`;
  }
}

/** Runs the check; see the module's TSDoc. */
export async function runReleaseCheck(context: ReleaseCheckContext): Promise<ReleaseCheckReport> {
  const steps: ReleaseCheckStep[] = [];
  const ticket = await context.pushTicket();
  steps.push({
    name: 'component_verify_ticket push answered success',
    passed: successful(ticket),
    detail: successful(ticket) ? 'answered success' : `the ticket push was ${describePush(ticket)}`,
  });
  for (const account of RELEASE_CHECK_ACCOUNTS) {
    steps.push(...(await checkAccount(context, account)));
  }
  return { passed: steps.every((step) => step.passed), steps };
}

async function checkAccount(
  context: ReleaseCheckContext,
  account: ReleaseCheckAccount
): Promise<ReleaseCheckStep[]> {
  const label = `${account.appId} (${account.accountType.replace('_', ' ')})`;
  const send = (fields: MessageFields) =>
    context.sendMessage(account.appId, fields, { user: FAN, retry: false });
  const event = String(account.event.Event);
  const steps = [await authorizedStep(context, account, label)];
  steps.push(
    replyStep(
      `${label}: ${event} event → reply ${event}from_callback`,
      await send(account.event),
      `${event}from_callback`
    ),
    replyStep(
      `${label}: text ${TEST_TEXT} → reply ${TEST_TEXT}_callback`,
      await send({ MsgType: 'text', Content: TEST_TEXT }),
      `${TEST_TEXT}_callback`
    )
  );
  steps.push(...(await queryAuthCodeSteps(context, account, label, send)));
  return steps;
}

async function authorizedStep(
  context: ReleaseCheckContext,
  account: ReleaseCheckAccount,
  label: string
): Promise<ReleaseCheckStep> {
  const name = `${label}: authorized push answered success and its code taken up`;
  const callsBefore = context.calls.length;
  const code = context.authorize(account);
  const push = await context.pushAuthorized(code);
  if (!successful(push)) {
    return { name, passed: false, detail: `the authorized push was ${describePush(push)}` };
  }
  const readInfo = (call: CallRecord) =>
    call.api === 'api_get_authorizer_info' &&
    call.errcode === undefined &&
    (call.body as { authorizer_appid?: unknown } | undefined)?.authorizer_appid === account.appId;
  const how = await poll(() => {
    if (context.state.authCodes.get(code)?.used) return 'the code was exchanged (api_query_auth)';
    if (context.calls.slice(callsBefore).some(readInfo)) {
      return 'the service read the authorization with api_get_authorizer_info';
    }
    return undefined;
  }, AUTHORIZED_WAIT_MS);
  return how
    ? { name, passed: true, detail: how }
    : {
        name,
        passed: false,
        detail: `answered success, but the code was not exchanged within ${AUTHORIZED_WAIT_MS / 1000} s`,
      };
}

function replyStep(name: string, record: MessageRecord, expected: string): ReleaseCheckStep {
  const passed =
    record.answer === 'reply' &&
    record.reply?.MsgType === 'text' &&
    record.reply.Content === expected;
  return { name, passed, detail: describeAnswer(record) };
}

async function queryAuthCodeSteps(
  context: ReleaseCheckContext,
  account: ReleaseCheckAccount,
  label: string,
  send: (fields: MessageFields) => Promise<MessageRecord>
): Promise<ReleaseCheckStep[]> {
  const { state } = context;
  const code = state.mintAuthCode(account.appId);
  const openid = state.callers.openId(account.appId, FAN);
  const messagesBefore = state.customMessages.length;
  const callsBefore = context.calls.length;
  const record = await send({ MsgType: 'text', Content: `${QUERY_AUTH_CODE_PREFIX}${code}` });
  const empty: ReleaseCheckStep = {
    name: `${label}: ${QUERY_AUTH_CODE_PREFIX}<query_auth_code> text → empty answer within 5 s`,
    passed: record.answer === 'empty',
    detail: describeAnswer(record),
  };
  const name = `${label}: customer-service message <query_auth_code>_from_api within ${CUSTOM_MESSAGE_WAIT_MS / 1000} s`;
  const first = await poll(
    () =>
      state.customMessages
        .slice(messagesBefore)
        .find((m) => m.authorizerAppId === account.appId && m.touser === openid),
    CUSTOM_MESSAGE_WAIT_MS
  );
  const exchanged = state.authCodes.get(code);
  const problems: string[] = [];
  if (!exchanged?.used) problems.push('the query_auth_code was not exchanged');
  if (!first) {
    problems.push('no customer-service message reached the fan');
    const refused = context.calls
      .slice(callsBefore)
      .filter((call) => call.api === 'sendCustomMessage' && call.errcode !== undefined)
      .map((call) => call.errcode);
    if (refused.length > 0) problems.push(`custom/send answered errcode ${refused.join(', ')}`);
  } else if (first.content !== `${code}_from_api`) {
    problems.push('the message that reached the fan is not <query_auth_code>_from_api');
  } else if (first.accessToken !== exchanged?.accessToken) {
    problems.push('sent with a token that did not come from exchanging this query_auth_code');
  }
  if (problems.length === 0) {
    return [empty, { name, passed: true, detail: 'sent with the token of the exchanged code' }];
  }
  return [empty, { name, passed: false, detail: problems.join('; ') }];
}
