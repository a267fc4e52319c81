/**
 * Browser check of the sandbox's authorization flow in a real, headless Chromium.
 *
 * A script rather than a test: `npm ci` does not install a browser. Once per machine:
 *
 *     apt-get update && apt-get install -y chromium      # Debian; or set CHROMIUM_PATH
 *     npx tsx scripts/browser-check.ts                   # after npm ci (playwright-core is a devDependency)
 *
 * It starts the sandbox in this process (the same `startSandbox` that `npm start` runs, on a free port, with
 * its own WeChat simulator), then, as a merchant admin would:
 *  1. opens http://127.0.0.1:<port>/authorize and clicks "Authorize on a computer";
 *  2. lands on the simulator's confirm page (WeChat's checks pass: the Referer host is 127.0.0.1) and confirms;
 *  3. is redirected to /authorize/callback and sees "Authorization complete";
 *  4. does the same with the phone (H5) link in a phone-sized window;
 * and checks that get-token then hands out both merchants' tokens. Screenshots of every step are written to
 * `SCREENSHOT_DIR` (default /tmp) as sandbox-browser-*.png. Exit code 0 when every step passed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { consoleLog } from '../local/console-log';
import { readSandboxSettings, type Sandbox, startSandbox } from '../local/sandbox';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? '/tmp';
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const PC_MERCHANT = 'wxb0c0browser00pc1';
const H5_MERCHANT = 'wxb0c0browser00h51';

const started = Date.now();
const say = (line: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`);

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function shot(page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOT_DIR, `sandbox-browser-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  say(`  screenshot ${path}`);
  return path;
}

/** Our page → WeChat (simulator) confirm page → our callback, by clicking like an admin. */
async function authorize(
  page: Page,
  sandbox: Sandbox,
  link: 'authorize-pc' | 'authorize-h5',
  merchant: string,
  prefix: string
): Promise<void> {
  await page.goto(sandbox.authorizePageUrl);
  check(
    (await page.title()) === 'Authorize this platform on WeChat',
    'the authorization page title'
  );
  await shot(page, `${prefix}1-authorize`);
  await Promise.all([page.waitForURL(`${sandbox.wechat.url}/**`), page.click(`#${link}`)]);
  const refusal = page.locator('#error');
  if ((await refusal.count()) > 0) {
    throw new Error(`the simulator refused the link: ${await refusal.textContent()}`);
  }
  check(
    (await page.title()).startsWith('Simulated WeChat: authorize'),
    'the simulator confirm page'
  );
  await page.fill('#authorizer_appid', merchant);
  await shot(page, `${prefix}2-confirm`);
  await Promise.all([
    page.waitForURL(`${sandbox.url}/authorize/callback?**`),
    page.click('#confirm'),
  ]);
  const result = page.locator('#result');
  check((await result.getAttribute('data-status')) === 'authorized', 'the callback result');
  check((await result.textContent())?.includes(merchant), 'the callback names the merchant');
  await shot(page, `${prefix}3-callback`);
}

async function tokenFor(sandbox: Sandbox, authorizerAppId: string): Promise<void> {
  const response = await fetch(`${sandbox.url}/local/token`, {
    method: 'POST',
    body: JSON.stringify({ authorizerAppId }),
  });
  const answer = (await response.json()) as { appId?: string; accessToken?: string };
  check(answer.appId === authorizerAppId && answer.accessToken, `a token for ${authorizerAppId}`);
}

async function run(): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let sandbox: Sandbox | undefined;
  let browser: Browser | undefined;
  try {
    const settings = readSandboxSettings({ PORT: '0', REFRESH_INTERVAL_MS: '0' });
    sandbox = await startSandbox(settings, consoleLog({ level: 'warn' }));
    say(`sandbox on ${sandbox.url}, simulator on ${sandbox.wechat.url}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    say(`chromium ${browser.version()} (${CHROMIUM})`);

    say('computer link (QR page)');
    const desktop = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    await authorize(await desktop.newPage(), sandbox, 'authorize-pc', PC_MERCHANT, 'pc-');
    await tokenFor(sandbox, PC_MERCHANT);

    say('phone link (H5)');
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      userAgent:
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47',
    });
    await authorize(await phone.newPage(), sandbox, 'authorize-h5', H5_MERCHANT, 'h5-');
    await tokenFor(sandbox, H5_MERCHANT);
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
