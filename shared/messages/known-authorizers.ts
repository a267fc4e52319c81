import type { EpochMs } from '../clock';
import type { TokenStore } from '../store/token-store';

/** How long a container trusts that an appid is an authorizer: a revoked one stops being published by then. */
export const KNOWN_FOR_MS = 5 * 60_000;
/**
 * How long it trusts that an appid is not one. Short: a merchant's first messages may race its
 * authorization (the push or the redirect storing it), and those are acknowledged without being published.
 */
export const UNKNOWN_FOR_MS = 5_000;
const KEPT = 10_000;

/**
 * Whether the `$APPID$` of a message URL is an account authorized to this platform (its record exists and is
 * not revoked), with the answer cached per container: a busy account's thousands of messages a second cost
 * one read every {@link KNOWN_FOR_MS}, not one each.
 */
export class KnownAuthorizers {
  readonly #answers = new Map<string, { known: boolean; until: EpochMs }>();

  constructor(
    private readonly store: TokenStore,
    private readonly componentAppId: string
  ) {}

  async isKnown(authorizerAppId: string, now: EpochMs): Promise<boolean> {
    const cached = this.#answers.get(authorizerAppId);
    if (cached && now < cached.until) return cached.known;
    const record = await this.store.getAuthorizer(this.componentAppId, authorizerAppId);
    const known = record !== undefined && record.status !== 'revoked';
    this.#answers.delete(authorizerAppId);
    this.#answers.set(authorizerAppId, {
      known,
      until: now + (known ? KNOWN_FOR_MS : UNKNOWN_FOR_MS),
    });
    if (this.#answers.size > KEPT)
      this.#answers.delete(this.#answers.keys().next().value as string);
    return known;
  }
}
