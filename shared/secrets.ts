import type { Clock } from './clock';
import { ConfigError } from './errors';
import { SECRET_CACHE_MS } from './policy';

/**
 * The platform's AppSecret (`COMPONENT_SECRET_ID`, JSON `{"componentAppSecret":"…"}`): every function may
 * need it to mint a component_access_token.
 */
export interface AppSecret {
  componentAppSecret: string;
}

/**
 * The message-crypto secret (`MESSAGE_SECRET_ID`, JSON `{"token":"…","encodingAesKey":"…",
 * "previousEncodingAesKey":"…"}`): only the authorization-event intake verifies and decrypts pushes.
 * `previousEncodingAesKey` is set only while an EncodingAESKey change is under way (WeChat advises accepting
 * both keys then).
 */
export interface MessageSecret {
  token: string;
  encodingAesKey: string;
  previousEncodingAesKey?: string;
}

/** Both secrets in one object: the sandbox and tests hold them together. */
export type ComponentSecret = AppSecret & MessageSecret;

function parseJson(json: string | undefined, name: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(json ?? '');
  } catch {
    throw new ConfigError([`${name} is not JSON`]);
  }
  return (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
}

function requireStrings(
  record: Record<string, unknown>,
  name: string,
  fields: readonly string[]
): string[] {
  return fields
    .filter((field) => typeof record[field] !== 'string' || !(record[field] as string).trim())
    .map((field) => `${name} has no ${field}`);
}

/** Validates the AppSecret's JSON without ever echoing a value. */
export function parseAppSecret(json: string | undefined): AppSecret {
  const record = parseJson(json, 'component secret');
  const problems = requireStrings(record, 'component secret', ['componentAppSecret']);
  if (problems.length) throw new ConfigError(problems);
  return { componentAppSecret: record.componentAppSecret as string };
}

/** Validates the message secret's JSON without ever echoing a value. */
export function parseMessageSecret(json: string | undefined): MessageSecret {
  const record = parseJson(json, 'message secret');
  const problems = requireStrings(record, 'message secret', ['token', 'encodingAesKey']);
  const previous = record.previousEncodingAesKey;
  if (previous !== undefined && previous !== '' && typeof previous !== 'string') {
    problems.push('message secret previousEncodingAesKey must be a string');
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    token: record.token as string,
    encodingAesKey: record.encodingAesKey as string,
    ...(typeof previous === 'string' && previous ? { previousEncodingAesKey: previous } : {}),
  };
}

/**
 * A lazy, cached reader of one secret. Nothing is fetched until the first call; concurrent callers share
 * one request; a failed fetch is not cached. Rotating the secret takes effect within `SECRET_CACHE_MS`.
 * `fetchSecretString` is the Secrets Manager call (`functions/lib/deps.ts`), kept out of here so that
 * functions which rarely need the secret never load its SDK client at start-up.
 *
 * @see https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets.html
 */
export function cachedSecret<T>(
  fetchSecretString: () => Promise<string | undefined>,
  parse: (json: string | undefined) => T,
  clock: Clock,
  ttlMs = SECRET_CACHE_MS
): () => Promise<T> {
  let cached: { value: Promise<T>; fetchedAt: number } | undefined;
  return () => {
    const now = clock();
    if (cached && now - cached.fetchedAt < ttlMs) return cached.value;
    const value = fetchSecretString()
      .then((secretString) => parse(secretString))
      .catch((error: unknown) => {
        cached = undefined;
        if (error instanceof ConfigError) throw error;
        throw new ConfigError(['a secret could not be read from Secrets Manager'], {
          cause: error,
        });
      });
    cached = { value, fetchedAt: now };
    return value;
  };
}
