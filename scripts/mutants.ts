/**
 * The mutants of `npm run simulate:mutants` (`scripts/simulation-mutants.ts`): each reverts one fix the
 * simulation exists to guard.
 */
/** One fix reverted: the edits that revert it, and what must then fail. */
export interface Mutant {
  name: string;
  edits: { file: string; find: string; replace: string }[];
  /** The invariant the simulation must report (one of them), or the focused test file that must fail. */
  expect: { invariant: string | readonly string[] } | { test: string };
  /** Days and seeds for this mutant instead of the run's (`--days`, `--seeds`). */
  days?: string;
  seeds?: string;
}

/**
 * The fixes `npm run simulate:mutants` reverts, each with the invariant a seed must then break (or the
 * focused test that must fail). `test/unit/scripts/simulation-mutants.test.ts` checks that every edit still
 * finds the code it reverts.
 */
export const MUTANTS: Mutant[] = [
  {
    name: 'expiresAt promises the nominal life',
    edits: [
      {
        file: 'shared/policy.ts',
        find: 'return Math.min(token.expiresAt, successorFrom + SUPERSEDED_OVERLAP_MS);',
        replace: 'return token.expiresAt;',
      },
    ],
    expect: { invariant: 'token accepted until its expiresAt' },
  },
  {
    name: 'work under a lease is not bounded by it',
    edits: [
      {
        file: 'shared/serving/single-flight.ts',
        find: 'return { ...ctx, deadline, api: ctx.api.within(deadline - ctx.clock()) };',
        replace: 'return { ...ctx, deadline };',
      },
    ],
    expect: { test: 'test/unit/shared/wechat-fidelity.test.ts' },
  },
  {
    name: 'api_query_auth is retried and its lost outcome not recovered',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: 'if (record.uncertainAt !== undefined) return recoverOutcome(ctx, record, owner);',
        replace: '',
      },
      {
        file: 'shared/authorization/auth-codes.ts',
        find: '      // No verdict for a code a push named',
        replace:
          "      if (ctx) return finishFailed(ctx, record, owner, 'auth_code_expired');\n      // No verdict for a code a push named",
      },
      { file: 'shared/wechat/api-client.ts', find: '{ singleUse: true }', replace: '{}' },
    ],
    expect: { invariant: 'listed authorizer never lost' },
  },
  {
    name: 'a push with nested elements is refused',
    edits: [
      {
        file: 'shared/wechat/callback-xml.ts',
        find: "parseXmlFields(xml, 'decrypted event', { nested: true })",
        replace: "parseXmlFields(xml, 'decrypted event', { nested: false })",
      },
    ],
    expect: { invariant: 'genuine push answered success' },
  },
  {
    name: 'an authorization without API permission is treated as an outage',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: "  how: 'exchanged' | 'recovered',\n  requestedAt: number,\n  mintedSince?: number\n): Promise<AuthCodeRecord> {",
        replace:
          "  how: 'exchanged' | 'recovered',\n  requestedAt: number,\n  mintedSince?: number\n): Promise<AuthCodeRecord> {\n  if (!granted.refreshToken) throw new Error('no refresh token');",
      },
    ],
    expect: { invariant: 'listed authorizer never lost' },
  },
  {
    name: '61003 keeps an authorizer active',
    edits: [
      {
        file: 'shared/wechat/errcodes.ts',
        find: "61003: 'not_authorized',",
        replace: "61003: 'unknown',",
      },
    ],
    expect: { invariant: 'revocation noticed' },
  },
  {
    name: 'a malformed list answer is read as an empty list',
    edits: [
      {
        file: 'shared/wechat/api-client.ts',
        find: "if (!Array.isArray(list) || typeof total_count !== 'number' || total_count < 0) {\n      throw new WechatUnavailableError(api, 'answer has no list or total_count');\n    }",
        replace: 'if (!Array.isArray(list)) return { total_count: 0, list: [] };',
      },
    ],
    expect: { invariant: 'listed authorizer never lost' },
  },
  {
    name: 'get-token ignores its deadline',
    edits: [
      {
        file: 'functions/get-token.ts',
        find: 'const ready = forInvocation(await deps(), budget);',
        replace: 'const ready = await deps();',
      },
      {
        file: 'functions/get-token.ts',
        find: 'const issued = await answerWithin(budget, token.serve(reported), () =>\n        fallback(ready, token, request)\n      );',
        replace: 'const issued = await token.serve(reported);',
      },
    ],
    expect: { invariant: 'answer before the deadline' },
  },
  {
    name: 'invalidToken reports force a refresh every time',
    edits: [
      {
        file: 'shared/serving/servable-token.ts',
        find: 'return oldEnough && backedOff;',
        replace: 'return true;',
      },
    ],
    expect: { invariant: 'calls per token-day within the cadence' },
  },
  {
    name: 'a renewal whose save is refused keeps the stored token without deciding',
    edits: [
      {
        file: 'shared/serving/authorizer-tokens.ts',
        find: '    const stored = current as AuthorizerRecord;\n    const sameAuthorization =',
        replace:
          '    const stored = current as AuthorizerRecord;\n    if (stored) return { record: stored, saved: false };\n    const sameAuthorization =',
      },
    ],
    // Which invariant breaks first depends on the seed: the older token kept, or (seed 1, day 3) a push
    // whose code exchange meets the undecided record and is answered 500.
    expect: {
      invariant: [
        'stored token is the last WeChat issued',
        'token accepted until its expiresAt',
        'genuine push answered success',
      ],
    },
  },
  {
    name: 'a reported token is never renewed (every check answers alive)',
    edits: [
      {
        file: 'shared/serving/serve-token.ts',
        find: ': await checkReportedToken(leaseCtx, invalidToken, kind.probePath);',
        replace:
          ": ((await checkReportedToken(leaseCtx, invalidToken, kind.probePath)) && 'alive');",
      },
    ],
    expect: { invariant: 'no honest report answered with a dead token' },
  },
  {
    name: 'every reported token is renewed (every check answers dead)',
    edits: [
      {
        file: 'shared/serving/serve-token.ts',
        find: ': await checkReportedToken(leaseCtx, invalidToken, kind.probePath);',
        replace:
          ": ((await checkReportedToken(leaseCtx, invalidToken, kind.probePath)) && 'dead');",
      },
    ],
    // A false report then renews: the tokens other callers hold die 5 minutes later (the promise), and
    // the renewals add up (the cadence), whichever the seed meets first.
    expect: {
      invariant: ['calls per token-day within the cadence', 'token accepted until its expiresAt'],
    },
  },
  {
    name: 'a token served while a renewal holds the lease is promised past it',
    edits: [
      {
        file: 'shared/policy.ts',
        find: 'token.leaseUntil !== undefined && token.leaseUntil >= now',
        replace: 'false',
      },
    ],
    expect: { invariant: 'token accepted until its expiresAt' },
  },
  {
    name: 'a 61009 after an api_query_auth answered -1 fails the code',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: '      // No verdict for a code a push named',
        replace:
          "      if (ctx) return finishFailed(ctx, record, owner, 'auth_code_expired');\n      // No verdict for a code a push named",
      },
    ],
    // Seed 3, day 3: a pushed code's -1 then 61009 leaves a new merchant unknown.
    expect: { invariant: 'listed authorizer never lost' },
  },
  {
    name: 'a redirect code no push named is exchanged at once',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: '  if (!record.authorizerAppId) {\n    // A redirect names no authorizer',
        replace: '  if (false as boolean) {\n    // A redirect names no authorizer',
      },
    ],
    // Half of the interleaved permission changes keep the tokens (protocol §11.12): a redirect code
    // exchanged before the push then mints a token that kills those callers hold, and outside the
    // merchant's lease (a redirect names no merchant), beside its renewal (seed 1, day 0).
    expect: {
      invariant: ['token accepted until its expiresAt', 'one writer mints a token at a time'],
    },
  },
  {
    name: 'a code is exchanged over a token callers hold',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: '  if (!mintWhileHeld && (await holdsPromisedToken(ctx, record.authorizerAppId))) {',
        replace: '  if (false as boolean) {',
      },
    ],
    // A permission change that keeps the tokens, or a code settled after the reconciliation imported its
    // authorization: exchanging mints a token that ends the one callers were promised, or (seed 1, day 0)
    // leaves the record behind WeChat's newest.
    expect: {
      invariant: ['token accepted until its expiresAt', 'stored token is the last WeChat issued'],
    },
  },
  {
    name: 'an authorizer missing from a listing is taken for unlisted without asking WeChat',
    edits: [
      {
        file: 'shared/serving/authorizer-tokens.ts',
        find: '      (await confirmUnlisted(ctx, authorizerAppId));',
        replace: '      undefined;',
      },
    ],
    // The scenario's shifting listings (a merchant revokes, another authorizes between two pages).
    expect: { invariant: 'listed authorizer never lost' },
  },
  {
    name: 'a code exchange mints beside a renewal instead of joining the lease',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: "  return holdingLease(\n    ctx,\n    { kind: 'authorizer', componentAppId, authorizerAppId },",
        replace:
          "  if (componentAppId) return exchangeNamed(ctx, record, owner, attempt);\n  return holdingLease(\n    ctx,\n    { kind: 'authorizer', componentAppId, authorizerAppId },",
      },
    ],
    expect: { invariant: 'one writer mints a token at a time' },
  },
  {
    name: 'a refresh token healed from the list keeps an older authorization time',
    edits: [
      {
        file: 'shared/serving/authorizer-tokens.ts',
        find: 'authorizedAt: funcInfo ? listedAt : undefined,',
        replace: 'authorizedAt: undefined,',
      },
    ],
    // Found by seed 1 on day 18 (a later rotation taken for a re-authorization); the focused test
    // reproduces it in a few steps.
    expect: { test: 'test/unit/shared/serving/succession.test.ts' },
  },
  {
    name: 'a re-authorization seen only in the list is ignored (reconciliation and 61023 recovery)',
    edits: [
      {
        file: 'shared/authorization/reconcile.ts',
        find: "    return otherToken ? 'reauthorize' : 'read_permissions';",
        replace: "    return 'keep';",
      },
      {
        file: 'shared/serving/authorizer-tokens.ts',
        find: 'const funcInfo = missed ? await listedPermissions(ctx, authorizerAppId) : undefined;',
        replace: 'const funcInfo = undefined as number[] | undefined;',
      },
    ],
    // Seed 2, day 1: a permission change seen only in the list stays unread.
    expect: {
      invariant: [
        "permissions follow WeChat's",
        'token accepted until its expiresAt',
        'stored token is the last WeChat issued',
        'listed authorizer never lost',
      ],
    },
  },
  {
    name: 'a pushed code with another refresh token drops a token WeChat still accepts',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: '      storedMayLive: rotated && checked?.mayLive === true,',
        replace: '      storedMayLive: false,',
      },
    ],
    // Seed 8 breaks the promise on day 17 (a permission change that kept the tokens, the refresh token
    // rotated 15 minutes before): too long a run for every mutant pass, so the focused test stands in.
    expect: { test: 'test/unit/shared/serving/succession.test.ts' },
  },
  {
    name: 'a later authorization in the list drops a token WeChat still accepts',
    edits: [
      {
        file: 'shared/authorization/reconcile.ts',
        find: "  if (action === 'reauthorize' && (await storedTokenMayLive(ctx, record))) {",
        replace: "  if (action === 'reauthorize' && false) {",
      },
    ],
    // Seed 4, day 1: a permission change that kept the tokens, the refresh token rotated before it.
    expect: { invariant: 'token accepted until its expiresAt' },
    days: '2',
    seeds: '4',
  },
  {
    name: 'a failed recovery call marks the code as possibly consumed',
    edits: [
      {
        file: 'shared/authorization/auth-codes.ts',
        find: '          : attempt.queried && mayHaveActed(error)',
        replace: '          : mayHaveActed(error)',
      },
    ],
    // Found by seed 11 on day 22 (the recovery that follows caps a token just promised, and its renewal
    // kills it); the focused test reproduces it in a few steps.
    expect: { test: 'test/unit/shared/serving/succession.test.ts' },
  },
  {
    name: 'an event leaves its authorizer item before the outbox holds it',
    edits: [
      {
        file: 'shared/events/outbox.ts',
        find: '      if (await ctx.store.putOutboxEvent(outboxed)) recorded.push',
        replace:
          '      await ctx.store.settlePendingEvent(ctx.componentAppId, authorizerAppId, pending.id);\n      if (await ctx.store.putOutboxEvent(outboxed)) recorded.push',
      },
    ],
    // A refused outbox write then loses the event: the state is stored, the bus never hears of it.
    expect: { invariant: 'no lifecycle event lost' },
    days: '4',
  },
];
