import type { Clock } from './clock';
import { ConfigError } from './errors';

/**
 * The component secret, stored as one JSON secret in Secrets Manager:
 * `{"componentAppSecret":"…","token":"…","encodingAesKey":"…","previousEncodingAesKey":"…"}`.
 * `previousEncodingAesKey` is set only while an EncodingAESKey change is under way (WeChat advises accepting
 * both keys then).
 */
export interface ComponentSecret {
  componentAppSecret: string;
  token: string;
  encodingAesKey: string;
  previousEncodingAesKey?: string;
}

/** Validates the secret's JSON without ever echoing a value. */
export function parseComponentSecret(json: string | undefined): ComponentSecret {
  let value: unknown;
  try {
    value = JSON.parse(json ?? '');
  } catch {
    throw new ConfigError(['component secret is not JSON']);
  }
  const problems: string[] = [];
  const record = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  for (const field of ['componentAppSecret', 'token', 'encodingAesKey'] as const) {
    if (typeof record[field] !== 'string' || !(record[field] as string).trim()) {
      problems.push(`component secret has no ${field}`);
    }
  }
  const previous = record.previousEncodingAesKey;
  if (previous !== undefined && previous !== '' && typeof previous !== 'string') {
    problems.push('component secret previousEncodingAesKey must be a string');
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    componentAppSecret: record.componentAppSecret as string,
    token: record.token as string,
    encodingAesKey: record.encodingAesKey as string,
    ...(typeof previous === 'string' && previous ? { previousEncodingAesKey: previous } : {}),
  };
}

/** How long a fetched secret is reused before Secrets Manager is asked again. */
export const SECRET_CACHE_MS = 5 * 60 * 1000;

/**
 * A lazy, cached reader of the component secret. Nothing is fetched until the first call; concurrent
 * callers share one request; a failed fetch is not cached. Rotating the secret takes effect within
 * `SECRET_CACHE_MS`. `fetchSecretString` is the Secrets Manager call (`functions/lib/deps.ts`), kept out of
 * here so that functions which rarely need the secret never load its SDK client at start-up.
 *
 * @see https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets.html
 */
export function cachedSecret(
  fetchSecretString: () => Promise<string | undefined>,
  clock: Clock,
  ttlMs = SECRET_CACHE_MS
): () => Promise<ComponentSecret> {
  let cached: { value: Promise<ComponentSecret>; fetchedAt: number } | undefined;
  return () => {
    const now = clock();
    if (cached && now - cached.fetchedAt < ttlMs) return cached.value;
    const value = fetchSecretString()
      .then((secretString) => parseComponentSecret(secretString))
      .catch((error: unknown) => {
        cached = undefined;
        if (error instanceof ConfigError) throw error;
        throw new ConfigError(['component secret could not be read from Secrets Manager'], {
          cause: error,
        });
      });
    cached = { value, fetchedAt: now };
    return value;
  };
}
