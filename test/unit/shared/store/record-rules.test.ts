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
  ticketRetirable,
  tokenSaveFields,
} from '../../../../shared/store/record-rules';
import type { NewAuthorization } from '../../../../shared/store/token-store';
import {
  AUTHORIZER_APPID as A,
  OTHER_AUTHORIZER_APPID as B,
  COMPONENT_APPID as C,
  T0,
} from '../../../support/test-ids';

const authorization = (overrides: Partial<NewAuthorization> = {}): NewAuthorization => ({
  componentAppId: C,
  authorizerAppId: A,
  accessToken: 'at',
  expiresAt: T0 + 7_200_000,
  refreshToken: 'rt',
  funcInfo: [1, 15],
  refreshAt: T0 + 5_400_000,
  authorizedAt: T0 - 1000,
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
    expect(authorizationFields(authorization(), T0)).toEqual({
      componentAppId: C,
      authorizerAppId: A,
      status: 'active',
      accessToken: 'at',
      expiresAt: T0 + 7_200_000,
      issuedAt: T0,
      requestedAt: T0,
      refreshToken: 'rt',
      funcInfo: [1, 15],
      refreshAt: T0 + 5_400_000,
      authorizedAt: T0 - 1000,
      updatedAt: T0,
    });
  });

  it('takes the issue window given, requestedAt defaulting to issuedAt', () => {
    expect(authorizationFields(authorization({ issuedAt: T0 - 50 }), T0)).toMatchObject({
      issuedAt: T0 - 50,
      requestedAt: T0 - 50,
    });
    expect(
      authorizationFields(authorization({ issuedAt: T0 - 50, requestedAt: T0 - 90 }), T0)
    ).toMatchObject({ issuedAt: T0 - 50, requestedAt: T0 - 90 });
  });

  it('drops the tokens and refreshAt of an authorization without a refresh token', () => {
    const fields = authorizationFields(
      authorization({
        refreshToken: undefined,
        withoutRefreshToken: 'awaiting_authorization_code',
      }),
      T0
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
    const fields = authorizationFields(authorization({ accessToken: undefined }), T0);
    expect(fields).toMatchObject({
      status: 'active',
      refreshToken: 'rt',
      refreshAt: T0 + 5_400_000,
    });
    expect(fields.accessToken).toBeUndefined();
    expect(fields.expiresAt).toBeUndefined();
    expect(fields.issuedAt).toBeUndefined();
    expect(fields.requestedAt).toBeUndefined();
  });

  it('clears the report check and failure of the replaced token and an earlier end, and keeps the forced-renewal back-off', () => {
    const fields = authorizationFields(authorization(), T0);
    for (const name of ['reportCheckedAt', 'lastErrorCode', 'endedAt'] as const) {
      expect(name in fields).toBe(true);
      expect(fields[name]).toBeUndefined();
    }
    expect('forcedAt' in fields).toBe(false);
  });

  it('leaves the lease and the pending events alone', () => {
    const fields = authorizationFields(authorization(), T0);
    for (const name of ['leaseOwner', 'leaseUntil', 'pendingEvents', 'version']) {
      expect(name in fields).toBe(false);
    }
  });
});

describe('endAuthorizationWrite', () => {
  it('drops the tokens, their history and the lease, leaving permissions, authorization time and last error, defaulted for a tombstone', () => {
    const write = endAuthorizationWrite(
      { componentAppId: C, authorizerAppId: A },
      'revoked',
      T0 - 5,
      T0
    );
    expect(write).toStrictEqual({
      fields: {
        componentAppId: C,
        authorizerAppId: A,
        status: 'revoked',
        endedAt: T0 - 5,
        updatedAt: T0,
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
    const token = { accessToken: 'at', expiresAt: T0 + 7_200_000, refreshAt: T0 + 5_400_000 };
    expect(tokenSaveFields(token, T0)).toEqual({
      ...token,
      requestedAt: T0,
      issuedAt: T0,
      updatedAt: T0,
    });
    expect(tokenSaveFields({ ...token, requestedAt: T0 - 300 }, T0)).toMatchObject({
      requestedAt: T0 - 300,
      issuedAt: T0,
    });
  });

  it('writes a ticket’s servedAt only when given: a save without one keeps the one stored', () => {
    const ticket = { ticket: 't', expiresAt: T0 + 7_200_000, refreshAt: T0 + 6_300_000 };
    expect(tokenSaveFields({ ...ticket, servedAt: T0 }, T0)).toMatchObject({ servedAt: T0 });
    expect(tokenSaveFields({ ...ticket, servedAt: undefined }, T0)).not.toHaveProperty('servedAt');
  });

  it('clears the last failure and report check of the replaced token', () => {
    expect([...CLEARED_BY_TOKEN_SAVE]).toEqual(['lastErrorCode', 'reportCheckedAt']);
  });
});

describe('releaseWrite', () => {
  it('ends the lease of a token, keeping the error and moving refreshAt', () => {
    expect(
      releaseWrite('authorizer', { errorCode: 'wechat_busy', retryAt: T0 + 60_000 }, T0)
    ).toEqual({
      fields: {
        leaseOwner: undefined,
        leaseUntil: undefined,
        lastErrorCode: 'wechat_busy',
        updatedAt: T0,
        refreshAt: T0 + 60_000,
      },
      countsAttempt: false,
    });
  });

  it('clears a token’s last error on a release without one and records a report check', () => {
    const write = releaseWrite('component_token', { reportCheckedAt: T0 - 5 }, T0);
    expect(write.fields).toEqual({
      leaseOwner: undefined,
      leaseUntil: undefined,
      lastErrorCode: undefined,
      updatedAt: T0,
      reportCheckedAt: T0 - 5,
    });
    expect('lastErrorCode' in write.fields).toBe(true);
  });

  it('caps a token’s expiry only when asked', () => {
    expect(releaseWrite('authorizer', { expiresAt: T0 + 300_000 }, T0).expiresAtCap).toBe(
      T0 + 300_000
    );
    expect('expiresAtCap' in releaseWrite('authorizer', {}, T0)).toBe(false);
  });

  it('counts an auth code’s attempt and records its outcome, next attempt, uncertainty and authorizer', () => {
    expect(
      releaseWrite(
        'auth_code',
        {
          errorCode: 'wechat_unavailable',
          retryAt: T0 + 30_000,
          uncertainAt: T0 - 10,
          authorizerAppId: A,
          expiresAt: T0,
          reportCheckedAt: T0,
        },
        T0
      )
    ).toEqual({
      fields: {
        leaseOwner: undefined,
        leaseUntil: undefined,
        outcomeCode: 'wechat_unavailable',
        updatedAt: T0,
        nextAttemptAt: T0 + 30_000,
        uncertainAt: T0 - 10,
        authorizerAppId: A,
      },
      countsAttempt: true,
    });
  });

  it('ignores the auth-code-only fields on a token', () => {
    const { fields } = releaseWrite('authorizer', { uncertainAt: T0, authorizerAppId: B }, T0);
    expect(Object.keys(fields).sort()).toEqual(
      ['lastErrorCode', 'leaseOwner', 'leaseUntil', 'updatedAt'].sort()
    );
  });
});

describe('newAuthCode', () => {
  it('stores a code pending at version 0, due at once, with no attempt', () => {
    const record = {
      componentAppId: C,
      code: 'queryauthcode@@@x',
      expiresAt: T0 + 3_600_000,
      source: 'redirect' as const,
      receivedAt: T0,
    };
    expect(newAuthCode(record)).toEqual({
      ...record,
      version: 0,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: T0,
    });
  });
});

describe('finishAuthCodeFields', () => {
  it('records the status and outcome code and takes the code off the due index', () => {
    expect(
      finishAuthCodeFields({ status: 'failed', outcomeCode: 'auth_code_expired' }, T0)
    ).toStrictEqual({
      status: 'failed',
      outcomeCode: 'auth_code_expired',
      nextAttemptAt: undefined,
      updatedAt: T0,
    });
  });

  it('removes the outcome code when none or an empty one is given', () => {
    for (const outcomeCode of [undefined, '']) {
      const fields = finishAuthCodeFields({ status: 'exchanged', outcomeCode }, T0);
      expect('outcomeCode' in fields).toBe(true);
      expect(fields.outcomeCode).toBeUndefined();
    }
  });

  it('names the authorizer only when the exchange gave one', () => {
    expect(finishAuthCodeFields({ status: 'exchanged', authorizerAppId: A }, T0)).toMatchObject({
      authorizerAppId: A,
    });
    expect('authorizerAppId' in finishAuthCodeFields({ status: 'exchanged' }, T0)).toBe(false);
    expect(
      'authorizerAppId' in finishAuthCodeFields({ status: 'failed', authorizerAppId: '' }, T0)
    ).toBe(false);
  });
});

describe('ticketRetirable', () => {
  it('lets a ticket leave the due index unless it was served at or after servedBefore', () => {
    expect(ticketRetirable({}, T0)).toBe(true);
    expect(ticketRetirable({ servedAt: T0 - 1 }, T0)).toBe(true);
    expect(ticketRetirable({ servedAt: T0 }, T0)).toBe(false);
  });
});
