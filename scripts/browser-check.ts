/**
 * Browser check of the sandbox's merchant pages in a real, headless Chromium, in Chinese and in English.
 *
 * A script rather than a test: `npm ci` does not install a browser. Once per machine:
 *
 *     apt-get update && apt-get install -y chromium fonts-noto-cjk   # Debian; or set CHROMIUM_PATH
 *     npm run browser-check                                         # after npm ci (playwright-core)
 *
 * It starts the sandbox in this process (the same `startSandbox` that `npm start` runs, on a free port, with
 * its own WeChat simulator and `PLATFORM_DISPLAY_NAME`), then, for each language (the browser's locale sets
 * `Accept-Language`), as a merchant admin would:
 *  1. opens /authorize on a computer, clicks "authorize on a computer", confirms on the simulator's page and
 *     lands on the success page with the account's name and permission sets;
 *  2. does the same on a phone, where the H5 link must come first;
 *  3. opens the callback for an account without API permission, for an expired code, past the entry page's
 *     per-minute budget (busy), and with a malformed query (error page);
 * and checks each page's language, result and "start again" link, and that get-token hands out the
 * merchants' tokens. Screenshots of every page go to `SCREENSHOT_DIR` (default `screenshots/`, gitignored)
 * as `<page>-<language>.png`. Exit code 0 when every check passed.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { consoleLog } from '../local/console-log';
import { type Sandbox, startSandbox } from '../local/sandbox';
import { readSandboxSettings } from '../local/sandbox-settings';
import { PUBLIC_ROUTE_BUDGET_PER_MINUTE } from '../shared/policy';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = resolve(process.env.SCREENSHOT_DIR ?? 'screenshots');
const PLATFORM = process.env.PLATFORM_DISPLAY_NAME ?? '示例科技第三方平台';
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const IPHONE_WECHAT =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47';
const LANGUAGES = [
  { lang: 'zh-CN', locale: 'zh-CN', startAgain: '开始重新授权' },
  { lang: 'en', locale: 'en-US', startAgain: 'Start again' },
] as const;
type Language = (typeof LANGUAGES)[number];

const started = Date.now();
const say = (line: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`);

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function shot(page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  say(`  screenshot ${path}`);
}

/** The page is ours, in `language`, with the platform's name, showing `status`. */
async function expectPage(page: Page, language: Language, status: string): Promise<void> {
  check(
    (await page.getAttribute('html', 'lang')) === language.lang,
    `<html lang="${language.lang}">`
  );
  check((await page.textContent('.brand'))?.trim() === PLATFORM, 'the platform name on the page');
  const result = await page.getAttribute('#result', 'data-status');
  check(result === status, `data-status="${status}" (got ${result})`);
  if (!['authorized', 'pending'].includes(status)) {
    check(
      (await page.textContent('#start-again'))?.trim() === language.startAgain,
      `"${language.startAgain}" on the ${status} page`
    );
  }
}

/** Our page → WeChat (simulator) confirm page → our callback, by clicking like an admin. */
async function authorize(
  page: Page,
  sandbox: Sandbox,
  language: Language,
  device: 'pc' | 'phone',
  merchant: string
): Promise<void> {
  const suffix = `${device === 'phone' ? 'phone-' : ''}${language.lang}`;
  await page.goto(sandbox.authorizePageUrl);
  check((await page.getAttribute('html', 'lang')) === language.lang, 'the entry page language');
  const first = await page.getAttribute('.actions a.button:first-child', 'id');
  const wanted = device === 'phone' ? 'authorize-h5' : 'authorize-pc';
  check(first === wanted, `${wanted} first on a ${device} (got ${first})`);
  await shot(page, `entry-${suffix}`);
  await Promise.all([page.waitForURL(`${sandbox.wechat.url}/**`), page.click(`#${wanted}`)]);
  const refusal = page.locator('#error');
  if ((await refusal.count()) > 0) {
    throw new Error(`the simulator refused the link: ${await refusal.textContent()}`);
  }
  await page.fill('#authorizer_appid', merchant);
  await Promise.all([
    page.waitForURL(`${sandbox.url}/authorize/callback?**`),
    page.click('#confirm'),
  ]);
  await expectPage(page, language, 'authorized');
  const text = (await page.textContent('#result')) ?? '';
  check(text.includes(merchant), 'the success page names the appid');
  const nickName = sandbox.simulator?.state.authorizers.get(merchant)?.nickName ?? '';
  check(text.includes(nickName), 'the success page names the account');
  check((await page.locator('#permissions li').count()) > 0, 'the permission sets by name');
  await shot(page, `success-${suffix}`);
}

async function tokenFor(sandbox: Sandbox, authorizerAppId: string): Promise<void> {
  const response = await fetch(`${sandbox.url}/local/token`, {
    method: 'POST',
    body: JSON.stringify({ authorizerAppId }),
  });
  const answer = (await response.json()) as { appId?: string; accessToken?: string };
  check(answer.appId === authorizerAppId && answer.accessToken, `a token for ${authorizerAppId}`);
}

/** Opens `path` and checks and photographs the page it shows. */
async function visit(
  page: Page,
  sandbox: Sandbox,
  language: Language,
  path: string,
  expected: { httpStatus: number; status: string; name: string }
): Promise<void> {
  const response = await page.goto(`${sandbox.url}${path}`);
  check(response?.status() === expected.httpStatus, `${path} answers ${expected.httpStatus}`);
  await expectPage(page, language, expected.status);
  await shot(page, `${expected.name}-${language.lang}`);
}

async function run(): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let sandbox: Sandbox | undefined;
  let browser: Browser | undefined;
  try {
    const settings = readSandboxSettings({
      PORT: '0',
      REFRESH_INTERVAL_MS: '0',
      PLATFORM_DISPLAY_NAME: PLATFORM,
    });
    sandbox = await startSandbox(settings, consoleLog({ level: 'error' }));
    const simulator = sandbox.simulator;
    check(simulator, 'the sandbox runs its own simulator');
    say(`sandbox on ${sandbox.url}, simulator on ${sandbox.wechat.url}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    say(`chromium ${browser.version()} (${CHROMIUM}), screenshots in ${SCREENSHOT_DIR}`);

    const contexts: BrowserContext[] = [];
    const desktop = async (language: Language) => {
      const context = await browser!.newContext({
        locale: language.locale,
        viewport: { width: 1000, height: 700 },
      });
      contexts.push(context);
      return context.newPage();
    };
    const phone = async (language: Language) => {
      const context = await browser!.newContext({
        locale: language.locale,
        viewport: { width: 390, height: 844 },
        isMobile: true,
        userAgent: IPHONE_WECHAT,
      });
      contexts.push(context);
      return context.newPage();
    };

    const withoutApi = 'wxb0c0browsernoapi';
    const noApiCode = simulator.authorize(withoutApi, [1, 2, 15], { apiPermission: false });
    const expiredCode = simulator.authorize('wxb0c0browserlate1');
    for (const [i, language] of LANGUAGES.entries()) {
      say(`${language.lang}: computer, then phone`);
      const pcMerchant = `wxb0c0browser0pc${i}`;
      const h5Merchant = `wxb0c0browser0h5${i}`;
      await authorize(await desktop(language), sandbox, language, 'pc', pcMerchant);
      await authorize(await phone(language), sandbox, language, 'phone', h5Merchant);
      await tokenFor(sandbox, pcMerchant);
      await tokenFor(sandbox, h5Merchant);
      await visit(
        await desktop(language),
        sandbox,
        language,
        `/authorize/callback?auth_code=${encodeURIComponent(noApiCode)}&expires_in=600`,
        { httpStatus: 200, status: 'without_api_permission', name: 'without-api-permission' }
      );
    }

    say('an expired code (the clock moves 11 minutes)');
    await sandbox.advanceClock(11 * 60_000);
    for (const language of LANGUAGES) {
      await visit(
        await desktop(language),
        sandbox,
        language,
        `/authorize/callback?auth_code=${encodeURIComponent(expiredCode)}&expires_in=600`,
        { httpStatus: 400, status: 'expired', name: 'expired' }
      );
    }

    say('a malformed link');
    for (const language of LANGUAGES) {
      await visit(await desktop(language), sandbox, language, '/authorize?auth_type=99', {
        httpStatus: 400,
        status: 'error',
        name: 'error',
      });
    }

    say(`the entry page past its budget (${PUBLIC_ROUTE_BUDGET_PER_MINUTE} a minute)`);
    await sandbox.advanceClock(60_000);
    for (let i = 0; i < PUBLIC_ROUTE_BUDGET_PER_MINUTE; i++) {
      await fetch(sandbox.authorizePageUrl).then((r) => r.arrayBuffer());
    }
    for (const language of LANGUAGES) {
      await visit(await desktop(language), sandbox, language, '/authorize', {
        httpStatus: 429,
        status: 'busy',
        name: 'busy',
      });
    }
    await Promise.all(contexts.map((context) => context.close()));
    say('browser check passed');
  } finally {
    await browser?.close();
    await sandbox?.close();
  }
}

run().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`browser check failed: ${(error as Error).message}\n`);
    process.exit(1);
  }
);
