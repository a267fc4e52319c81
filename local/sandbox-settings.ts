/**
 * The sandbox's settings: `npm start`'s environment read and checked in one place, so that a bad one is
 * refused with every problem named before anything starts, and a good one needs nothing set at all.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { DEFAULT_WECHAT_API_BASE_URL, loadConfig, PAGE_ENV } from '../shared/config';
import { ConfigError } from '../shared/errors';
import type { ComponentSecret } from '../shared/secrets';
import { LOG_LEVELS, type LogLevel } from './console-log';
import { type AwsTarget, awsTargetFromEnv } from './local-dynamo';

export const DEFAULT_PORT = 3000;
/** Not a secret: the appid shows up in every link. Fixed so that the walkthrough's examples match. */
export const DEFAULT_COMPONENT_APPID = 'wx0123456789abcdef';
export const DEFAULT_REFRESH_INTERVAL_MS = 60_000;
/** WeChat pushes a component_verify_ticket every 10 minutes. */
export const DEFAULT_TICKET_INTERVAL_MS = 600_000;
export const DEFAULT_TABLE_NAME = 'sandbox-tokens';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN = /^[A-Za-z0-9]{3,32}$/;
const AES_KEY = /^[A-Za-z0-9]{43}$/;
/** DynamoDB's table-name rule. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const ENDPOINT = /^https?:\/\/[^/\s]+\/?$/;

function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** `length` uniformly random letters and digits. */
export function randomAlphanumeric(length: number): string {
  let value = '';
  for (let i = 0; i < length; i++) value += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return value;
}

export interface SandboxSettings {
  port: number;
  componentAppId: string;
  secret: ComponentSecret;
  /** Names of the variables whose values were generated for this run (never printed). */
  generated: string[];
  /** 0 = no timer (`POST /local/refresh` still works). */
  refreshIntervalMs: number;
  /** Simulator only; 0 = only the push at start. */
  ticketIntervalMs: number;
  /** Set when `WECHAT_API_BASE_URL` is: use that WeChat, start no simulator. */
  externalWechat?: { apiBaseUrl: string; pageBaseUrl?: string };
  /** `TOKEN_TABLE_NAME`, in the embedded store or the outside one. */
  tableName: string;
  /** Set when `DYNAMODB_ENDPOINT` is: use that DynamoDB (its region and credentials from the env). */
  outsideStore?: AwsTarget & { endpoint: string };
  logLevel: LogLevel;
  /** `PAGE_ENV` as given (the platform's display name, the page routes' budgets), for the page functions. */
  pageEnv?: Partial<Record<(typeof PAGE_ENV)[number], string>>;
  /** `EVENTS_WEBHOOK_URL`: where each event published on the sandbox's bus is also POSTed, as JSON. */
  eventsWebhookUrl?: string;
}

function integer(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  max: number,
  problems: string[]
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > max) {
    problems.push(`${name} must be an integer from 0 to ${max}`);
    return fallback;
  }
  return value;
}

/**
 * Reads the sandbox's configuration from the environment. Everything is optional: the component secret
 * (app secret, message token, EncodingAESKey) is generated per run unless given. Against an external WeChat
 * (`WECHAT_API_BASE_URL`) the appid and secret must be given, since they must match that WeChat's.
 *
 * @throws ConfigError naming every problem at once (never echoing a secret value).
 */
export function readSandboxSettings(
  env: Record<string, string | undefined> = process.env
): SandboxSettings {
  const problems: string[] = [];
  const generated: string[] = [];
  const given = (name: string) => env[name]?.trim() || undefined;
  const orGenerate = (name: string, make: () => string) => {
    const value = given(name);
    if (value !== undefined) return value;
    generated.push(name);
    return make();
  };
  const port = integer(env, 'PORT', DEFAULT_PORT, 65_535, problems);
  const componentAppId = given('COMPONENT_APPID') ?? DEFAULT_COMPONENT_APPID;
  const secret: ComponentSecret = {
    componentAppSecret: orGenerate('COMPONENT_APPSECRET', () => randomBytes(16).toString('hex')),
    token: orGenerate('COMPONENT_TOKEN', () => randomAlphanumeric(32)),
    encodingAesKey: orGenerate('COMPONENT_ENCODING_AES_KEY', () => randomAlphanumeric(43)),
  };
  if (!TOKEN.test(secret.token)) {
    problems.push('COMPONENT_TOKEN must be 3 to 32 letters and digits');
  }
  if (!AES_KEY.test(secret.encodingAesKey)) {
    problems.push('COMPONENT_ENCODING_AES_KEY must be 43 letters and digits');
  }
  const refreshIntervalMs = integer(
    env,
    'REFRESH_INTERVAL_MS',
    DEFAULT_REFRESH_INTERVAL_MS,
    2 ** 31 - 1,
    problems
  );
  const ticketIntervalMs = integer(
    env,
    'SIMULATOR_TICKET_INTERVAL_MS',
    DEFAULT_TICKET_INTERVAL_MS,
    2 ** 31 - 1,
    problems
  );
  const tableName = given('TOKEN_TABLE_NAME') ?? DEFAULT_TABLE_NAME;
  if (!TABLE_NAME.test(tableName)) {
    problems.push('TOKEN_TABLE_NAME must be 3 to 255 letters, digits, _ . or -');
  }
  const endpoint = given('DYNAMODB_ENDPOINT')?.replace(/\/+$/, '');
  if (endpoint && !ENDPOINT.test(endpoint)) {
    problems.push('DYNAMODB_ENDPOINT must be an http(s) origin, e.g. http://127.0.0.1:8000');
  }
  const logLevel = (given('LOG_LEVEL')?.toLowerCase() ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS}`);

  const eventsWebhookUrl = given('EVENTS_WEBHOOK_URL');
  if (eventsWebhookUrl && !isHttpUrl(eventsWebhookUrl)) {
    problems.push('EVENTS_WEBHOOK_URL must be an http(s) URL, e.g. http://127.0.0.1:4000/events');
  }

  const apiBaseUrl = given('WECHAT_API_BASE_URL')?.replace(/\/+$/, '');
  let externalWechat: SandboxSettings['externalWechat'];
  if (apiBaseUrl) {
    // Real WeChat serves its authorization pages elsewhere (mp/open.weixin.qq.com): keep the defaults then.
    const pageBaseUrl =
      given('WECHAT_AUTHORIZE_PAGE_BASE_URL')?.replace(/\/+$/, '') ??
      (apiBaseUrl === DEFAULT_WECHAT_API_BASE_URL ? undefined : apiBaseUrl);
    externalWechat = pageBaseUrl ? { apiBaseUrl, pageBaseUrl } : { apiBaseUrl };
    const missing = ['COMPONENT_APPID', ...generated].filter((name) => !given(name));
    if (missing.length) {
      problems.push(
        `with WECHAT_API_BASE_URL set, also set ${missing.join(', ')} to that WeChat's values`
      );
    }
  }
  const pageEnv = Object.fromEntries(PAGE_ENV.map((name) => [name, given(name)]));
  try {
    loadConfig({
      ...pageEnv,
      TOKEN_TABLE_NAME: 'sandbox',
      COMPONENT_SECRET_ID: 'sandbox',
      COMPONENT_APPID: componentAppId,
      WECHAT_API_BASE_URL: externalWechat?.apiBaseUrl,
      // Only a given one: a derived one would repeat WECHAT_API_BASE_URL's problem.
      WECHAT_AUTHORIZE_PAGE_BASE_URL: given('WECHAT_AUTHORIZE_PAGE_BASE_URL'),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    port,
    componentAppId,
    secret,
    generated,
    refreshIntervalMs,
    ticketIntervalMs,
    ...(externalWechat ? { externalWechat } : {}),
    tableName,
    ...(endpoint ? { outsideStore: { endpoint, ...awsTargetFromEnv(env) } } : {}),
    logLevel,
    pageEnv,
    ...(eventsWebhookUrl ? { eventsWebhookUrl } : {}),
  };
}
