import { describe, expect, it } from 'vitest';
import {
  authorizationFields,
  authorizationStatus,
  CLEARED_BY_TOKEN_SAVE,
  endAuthorizationWrite,
  finishAuthCodeFields,
  isRenewable,
  newAuthCode,
  releaseWrite,
  tokenSaveFields,
} from '../../../../shared/store/record-rules';
import type { NewAuthorization } from '../../../../shared/store/token-store';

const NOW = 1_700_000_000_000;

const authorization = (overrides: Partial<NewAuthorization> = {}): NewAuthorization => ({
  componentAppId: 'wxcomponent',
  authorizerAppId: 'wxmerchant',
  accessToken: 'at',
  expiresAt: NOW + 7_200_000,
  refreshToken: 'rt',
  funcInfo: [1, 15],
  refreshAt: NOW + 5_400_000,
  authorizedAt: NOW - 1000,
  ...overrides,
});

describe('authorizationStatus', () => {
  it('is active when WeChat gave a refresh token', () => {
    expect(authorizationStatus({ refreshToken: 'rt' })).toBe('active');
    expect(
      authorizationStatus({
        refreshToken: 'rt',
        withoutRefreshToken: 'awaiting_authorization_code',
      })
    ).toBe('active');
  });

  it('is without_api_permission without a refresh token unless the writer names another status', () => {
    expect(authorizationStatus({})).toBe('without_api_permission');
    expect(authorizationStatus({ withoutRefreshToken: 'awaiting_authorization_code' })).toBe(
      'awaiting_authorization_code'
    );
  });
});

describe('isRenewable', () => {
  it('puts only active authorizers on the due index', () => {
    expect(isRenewable('active')).toBe(true);
    for (const status of [
      'revoked',
      'needs_reauthorization',
      'without_api_permission',
      'awaiting_authorization_code',
      undefined,
    ] as const) {
      expect(isRenewable(status)).toBe(false);
    }
  });
});

describe('authorizationFields', () => {
  it('keeps the tokens of an authorization with a refresh token, issued now by default', () => {
    expect(authorizationFields(authorization(), NOW)).toEqual({
      componentAppId: 'wxcomponent',
      authorizerAppId: 'wxmerchant',
      status: 'active',
      accessToken: 'at',
      expiresAt: NOW + 7_200_000,
      issuedAt: NOW,
      requestedAt: NOW,
      refreshToken: 'rt',
      funcInfo: [1, 15],
      refreshAt: NOW + 5_400_000,
      authorizedAt: NOW - 1000,
      updatedAt: NOW,
    });
  });

  it('takes the issue window given, requestedAt defaulting to issuedAt', () => {
    expect(authorizationFields(authorization({ issuedAt: NOW - 50 }), NOW)).toMatchObject({
      issuedAt: NOW - 50,
      requestedAt: NOW - 50,
    });
    expect(
      authorizationFields(authorization({ issuedAt: NOW - 50, requestedAt: NOW - 90 }), NOW)
    ).toMatchObject({ issuedAt: NOW - 50, requestedAt: NOW - 90 });
  });

  it('drops the tokens and refreshAt of an authorization without a refresh token', () => {
    const fields = authorizationFields(
      authorization({
        refreshToken: undefined,
        withoutRefreshToken: 'awaiting_authorization_code',
      }),
      NOW
    );
    expect(fields).toMatchObject({ status: 'awaiting_authorization_code', funcInfo: [1, 15] });
    for (const name of [
      'accessToken',
      'expiresAt',
      'issuedAt',
      'requestedAt',
      'refreshToken',
      'refreshAt',
    ] as const) {
      expect(fields[name]).toBeUndefined();
    }
  });

  it('keeps the refresh token and refreshAt but no issue window when no access token came', () => {
    const fields = authorizationFields(authorization({ accessToken: undefined }), NOW);
    expect(fields).toMatchObject({
      status: 'active',
      refreshToken: 'rt',
      refreshAt: NOW + 5_400_000,
    });
    expect(fields.accessToken).toBeUndefined();
    expect(fields.expiresAt).toBeUndefined();
    expect(fields.issuedAt).toBeUndefined();
    expect(fields.requestedAt).toBeUndefined();
  });

  it('clears the report check and failure of the replaced token and an earlier end, and keeps the forced-renewal back-off', () => {
    const fields = authorizationFields(authorization(), NOW);
    for (const name of ['reportCheckedAt', 'lastErrorCode', 'endedAt'] as const) {
      expect(name in fields).toBe(true);
      expect(fields[name]).toBeUndefined();
    }
    expect('forcedAt' in fields).toBe(false);
  });

  it('leaves the lease and the pending events alone', () => {
    const fields = authorizationFields(authorization(), NOW);
    for (const name of ['leaseOwner', 'leaseUntil', 'pendingEvents', 'version']) {
      expect(name in fields).toBe(false);
    }
  });
});

describe('endAuthorizationWrite', () => {
  it('drops the tokens, their history and the lease, leaving permissions, authorization time and last error, defaulted for a tombstone', () => {
    const write = endAuthorizationWrite(
      { componentAppId: 'wxcomponent', authorizerAppId: 'wxmerchant' },
      'revoked',
      NOW - 5,
      NOW
    );
    expect(write).toStrictEqual({
      fields: {
        componentAppId: 'wxcomponent',
        authorizerAppId: 'wxmerchant',
        status: 'revoked',
        endedAt: NOW - 5,
        updatedAt: NOW,
        accessToken: undefined,
        expiresAt: undefined,
        issuedAt: undefined,
        requestedAt: undefined,
        refreshToken: undefined,
        refreshAt: undefined,
        forcedAt: undefined,
        reportCheckedAt: undefined,
        leaseOwner: undefined,
        leaseUntil: undefined,
      },
      ifAbsent: { funcInfo: [], authorizedAt: 0 },
    });
  });
});

describe('tokenSaveFields', () => {
  it('stamps the token as issued now, requested now unless the call start is given', () => {
    const token = { accessToken: 'at', expiresAt: NOW + 7_200_000, refreshAt: NOW + 5_400_000 };
    expect(tokenSaveFields(token, NOW)).toEqual({
      ...token,
      requestedAt: NOW,
      issuedAt: NOW,
      updatedAt: NOW,
    });
    expect(tokenSaveFields({ ...token, requestedAt: NOW - 300 }, NOW)).toMatchObject({
      requestedAt: NOW - 300,
      issuedAt: NOW,
    });
  });

  it('clears the last failure and report check of the replaced token', () => {
    expect([...CLEARED_BY_TOKEN_SAVE]).toEqual(['lastErrorCode', 'reportCheckedAt']);
  });
});

describe('releaseWrite', () => {
  it('ends the lease of a token, keeping the error and moving refreshAt', () => {
    expect(
      releaseWrite('authorizer', { errorCode: 'wechat_busy', retryAt: NOW + 60_000 }, NOW)
    ).toEqual({
      fields: {
        leaseOwner: undefined,
        leaseUntil: undefined,
        lastErrorCode: 'wechat_busy',
        updatedAt: NOW,
        refreshAt: NOW + 60_000,
      },
      countsAttempt: false,
    });
  });

  it('clears a token’s last error on a release without one and records a report check', () => {
    const write = releaseWrite('component_token', { reportCheckedAt: NOW - 5 }, NOW);
    expect(write.fields).toEqual({
      leaseOwner: undefined,
      leaseUntil: undefined,
      lastErrorCode: undefined,
      updatedAt: NOW,
      reportCheckedAt: NOW - 5,
    });
    expect('lastErrorCode' in write.fields).toBe(true);
  });

  it('caps a token’s expiry only when asked', () => {
    expect(releaseWrite('authorizer', { expiresAt: NOW + 300_000 }, NOW).expiresAtCap).toBe(
      NOW + 300_000
    );
    expect('expiresAtCap' in releaseWrite('authorizer', {}, NOW)).toBe(false);
  });

  it('counts an auth code’s attempt and records its outcome, next attempt, uncertainty and authorizer', () => {
    expect(
      releaseWrite(
        'auth_code',
        {
          errorCode: 'wechat_unavailable',
          retryAt: NOW + 30_000,
          uncertainAt: NOW - 10,
          authorizerAppId: 'wxmerchant',
          expiresAt: NOW,
          reportCheckedAt: NOW,
        },
        NOW
      )
    ).toEqual({
      fields: {
        leaseOwner: undefined,
        leaseUntil: undefined,
        outcomeCode: 'wechat_unavailable',
        updatedAt: NOW,
        nextAttemptAt: NOW + 30_000,
        uncertainAt: NOW - 10,
        authorizerAppId: 'wxmerchant',
      },
      countsAttempt: true,
    });
  });

  it('ignores the auth-code-only fields on a token', () => {
    const { fields } = releaseWrite(
      'authorizer',
      { uncertainAt: NOW, authorizerAppId: 'wxother' },
      NOW
    );
    expect(Object.keys(fields).sort()).toEqual(
      ['lastErrorCode', 'leaseOwner', 'leaseUntil', 'updatedAt'].sort()
    );
  });
});

describe('newAuthCode', () => {
  it('stores a code pending at version 0, due at once, with no attempt', () => {
    const record = {
      componentAppId: 'wxcomponent',
      code: 'queryauthcode@@@x',
      expiresAt: NOW + 3_600_000,
      source: 'redirect' as const,
      receivedAt: NOW,
    };
    expect(newAuthCode(record)).toEqual({
      ...record,
      version: 0,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: NOW,
    });
  });
});

describe('finishAuthCodeFields', () => {
  it('records the status and outcome code and takes the code off the due index', () => {
    expect(
      finishAuthCodeFields({ status: 'failed', outcomeCode: 'auth_code_expired' }, NOW)
    ).toStrictEqual({
      status: 'failed',
      outcomeCode: 'auth_code_expired',
      nextAttemptAt: undefined,
      updatedAt: NOW,
    });
  });

  it('removes the outcome code when none or an empty one is given', () => {
    for (const outcomeCode of [undefined, '']) {
      const fields = finishAuthCodeFields({ status: 'exchanged', outcomeCode }, NOW);
      expect('outcomeCode' in fields).toBe(true);
      expect(fields.outcomeCode).toBeUndefined();
    }
  });

  it('names the authorizer only when the exchange gave one', () => {
    expect(
      finishAuthCodeFields({ status: 'exchanged', authorizerAppId: 'wxmerchant' }, NOW)
    ).toMatchObject({ authorizerAppId: 'wxmerchant' });
    expect('authorizerAppId' in finishAuthCodeFields({ status: 'exchanged' }, NOW)).toBe(false);
    expect(
      'authorizerAppId' in finishAuthCodeFields({ status: 'failed', authorizerAppId: '' }, NOW)
    ).toBe(false);
  });
});
