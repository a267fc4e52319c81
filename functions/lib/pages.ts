import type { LinkedAccount } from '../../shared/authorization/handle-auth-redirect';
import type { BudgetDenied } from '../../shared/budgets/public-budget';
import type { ServiceErrorCode } from '../../shared/errors';
import { escapeHtml, page } from './html';
import type { HttpFailure } from './http-errors';
import { isPhone, type PageLanguage, pageLanguage } from './page-language';
import { type ErrorKind, PAGE_TEXT, type PageText } from './page-text';
import { permissionSetName } from './permission-sets';

/**
 * The merchant pages: the authorization entry page, the callback's results and every error page, in the
 * viewer's language, with the platform's name. Each builder returns the arguments of `html()` (status,
 * page, headers: `return html(...entryPage(…))`); `Vary` names the request headers the page was chosen by.
 */

/** Who is looking: what the page is chosen by. */
export interface Viewer {
  lang: PageLanguage;
  /** The phone (H5) authorization link comes first. */
  phone: boolean;
  /** `PLATFORM_DISPLAY_NAME`, when set. */
  platformName?: string;
}

export type PageAnswer = [status: number, body: string, headers: Record<string, string>];

/** The viewer of a request, from its `Accept-Language` and `User-Agent` headers. */
export function viewerOf(
  header: (name: string) => string | undefined,
  platformName?: string
): Viewer {
  return {
    lang: pageLanguage(header('accept-language')),
    phone: isPhone(header('user-agent')),
    platformName,
  };
}

const VARY_LANGUAGE = { vary: 'Accept-Language' };

interface Rendered {
  text: PageText;
  /** The platform's name, escaped, or "this platform". */
  p: string;
}

function render(viewer: Viewer): Rendered {
  const text = PAGE_TEXT[viewer.lang];
  return { text, p: viewer.platformName ? escapeHtml(viewer.platformName) : text.thisPlatform };
}

function answer(
  viewer: Viewer,
  status: number,
  title: string,
  body: string,
  headers: Record<string, string> = VARY_LANGUAGE
): PageAnswer {
  return [
    status,
    page({ lang: viewer.lang, title, platformName: viewer.platformName, body }),
    headers,
  ];
}

const result = (status: string, html: string) =>
  `<p id="result" data-status="${status}">${html}</p>`;

const startAgain = (text: PageText) =>
  `<p class="actions"><a class="button" id="start-again" href="/authorize">${text.startAgain}</a></p>`;

/**
 * `GET /authorize`: both authorization links, the one that fits the device first (PC: QR code page;
 * phone: H5 link for WeChat's browser).
 */
export function entryPage(
  viewer: Viewer,
  links: { pc: string; h5: string; minutesLeft: number }
): PageAnswer {
  const { text, p } = render(viewer);
  const link = (id: string, href: string, label: string, main: boolean) =>
    `<a class="button${main ? '' : ' secondary'}" id="${id}" href="${escapeHtml(href)}">${label}</a>`;
  const pc = link('authorize-pc', links.pc, text.entry.pc, !viewer.phone);
  const h5 = link('authorize-h5', links.h5, text.entry.h5, viewer.phone);
  return answer(
    viewer,
    200,
    text.entry.title(p),
    `<p>${text.entry.lead(p)}</p>
<p class="actions">${viewer.phone ? `${h5}\n${pc}` : `${pc}\n${h5}`}</p>
<p class="muted">${text.entry.expires(links.minutesLeft)}</p>`,
    { vary: 'Accept-Language, User-Agent' }
  );
}

/** The callback's success: the account by name, its permission sets by name; or why it has no API. */
export function authorizedPage(viewer: Viewer, account: LinkedAccount): PageAnswer {
  const { text, p } = render(viewer);
  const name = text.accountName(
    account.nickName ? escapeHtml(account.nickName) : undefined,
    escapeHtml(account.appId)
  );
  if (account.withoutApiPermission) {
    const steps = text.withoutApi.steps.map((step) => `<li>${step}</li>`).join('');
    return answer(
      viewer,
      200,
      text.withoutApi.title,
      `${result('without_api_permission', text.withoutApi.account(name, p))}
<p>${text.withoutApi.todo}</p>
<ol>${steps}</ol>
${startAgain(text)}`
    );
  }
  const permissions = account.funcInfo.length
    ? `<p>${text.authorized.permissions}</p>
<ul id="permissions">${account.funcInfo
        .map((id) => `<li data-id="${id}">${escapeHtml(permissionSetName(id, viewer.lang))}</li>`)
        .join('')}</ul>`
    : '';
  return answer(
    viewer,
    200,
    text.authorized.title,
    `${result('authorized', text.authorized.account(name, p))}
${permissions}
<p class="muted">${text.authorized.close}</p>`
  );
}

/** The code expired or was already used (61009/61010, or our own record says so). */
export function expiredPage(viewer: Viewer): PageAnswer {
  const { text } = render(viewer);
  return answer(
    viewer,
    400,
    text.expired.title,
    `${result('expired', text.expired.body)}\n${startAgain(text)}`
  );
}

/** The code is stored and its exchange will be retried by the schedule. */
export function pendingPage(viewer: Viewer): PageAnswer {
  const { text } = render(viewer);
  return answer(viewer, 202, text.pending.title, result('pending', text.pending.body));
}

/**
 * The route's WeChat budget is spent (`spendPublicBudget`): 429 with `Retry-After`, nothing called. On the
 * callback the `authorized` push (never budgeted) has usually completed the authorization meanwhile, so a
 * reload in a minute shows the result.
 */
export function busyPage(
  viewer: Viewer,
  denied: BudgetDenied,
  on: 'entry' | 'callback'
): PageAnswer {
  const { text, p } = render(viewer);
  const day = denied.window === 'day';
  const body = day ? text.busy.day(p) : on === 'entry' ? text.busy.entry : text.busy.callback;
  return answer(
    viewer,
    429,
    day ? text.busy.dayTitle : text.busy.title,
    `${result('busy', body)}\n${startAgain(text)}`,
    { ...VARY_LANGUAGE, 'retry-after': String(denied.retryAfterSeconds) }
  );
}

function errorKind(code: ServiceErrorCode | 'internal_error', status: number): ErrorKind {
  if (status < 500) return 'invalid';
  if (code === 'ticket_unavailable') return 'notReady';
  if (code === 'wechat_busy' || code === 'wechat_quota') return 'wechatBusy';
  return 'unavailable';
}

/**
 * Any failure of the page routes (`http()`'s error path), explained for a merchant. Below 500 the
 * service's own message (safe by construction) is added as a detail for support.
 */
export function errorPage(
  viewer: Viewer,
  failure: HttpFailure,
  code: ServiceErrorCode | 'internal_error'
): PageAnswer {
  if (code === 'auth_code_expired') return expiredPage(viewer);
  const { text, p } = render(viewer);
  const kind = text.errors[errorKind(code, failure.status)];
  const detail =
    failure.status < 500
      ? `\n<p class="muted">${text.details}<span lang="en">${escapeHtml(failure.message)}</span></p>`
      : '';
  return answer(
    viewer,
    failure.status,
    kind.title,
    `${result('error', kind.body(p))}${detail}\n${startAgain(text)}`,
    { ...failure.headers, ...VARY_LANGUAGE }
  );
}
