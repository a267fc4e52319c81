import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import type { Deps } from '../../../../functions/lib/deps';
import { http } from '../../../../functions/lib/http';
import { inLambda, invoked } from '../../../../functions/lib/invoked';
import {
  observability,
  powertoolsLog,
  powertoolsMetrics,
  searchCorrelationId,
} from '../../../../functions/lib/observability';
import { InvalidRequestError } from '../../../../shared/errors';
import { MetricName, withLogFields } from '../../../../shared/log';
import { captureOutput, logEntries, parseOutput } from '../../../support/capture-output';
import { httpEvent } from '../../../support/events';

vi.hoisted(() => {
  process.env.LOG_LEVEL = 'DEBUG';
  delete process.env.POWERTOOLS_LOG_LEVEL;
  delete process.env.POWERTOOLS_DEV;
});

const context = (awsRequestId: string, functionName = 'auth-event') =>
  ({
    awsRequestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:ap-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

const withRequestId = (event: APIGatewayProxyEventV2, requestId: string) => ({
  ...event,
  requestContext: { ...event.requestContext, requestId },
});

const powertoolsDeps = async () => {
  const { logger, metrics } = observability();
  return { log: powertoolsLog(logger), metrics: powertoolsMetrics(metrics) } as unknown as Deps;
};

describe('the Powertools log adapter', () => {
  it('writes one JSON line per entry with the fields redacted by kind', async () => {
    const token = '76_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIj';
    const output = await captureOutput(async () => {
      powertoolsLog(observability().logger).info('scheduled refresh finished', {
        ticketAgeSeconds: 340,
        ticketUsable: true,
        appId: token,
        note: 'x',
      });
    });
    expect(logEntries(output)).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'scheduled refresh finished',
        ticketAgeSeconds: 340,
        ticketUsable: true,
        appId: '[redacted]',
        note: '[redacted]',
      }),
    ]);
    expect(output).not.toContain(token);
  });
});

describe('the Powertools log adapter under withLogFields', () => {
  it('redacts a persistent field as it redacts a field given at the call', async () => {
    const token = '76_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIj';
    const output = await captureOutput(async () => {
      const child = withLogFields(powertoolsLog(observability().logger), {
        authorizerAppId: token,
        refreshToken: `refreshtoken@@@${token}`,
        job: 'refresh',
      });
      child.warn('lost the lease while renewing; a later renewal stands', { errcode: 61023 });
    });
    expect(logEntries(output)).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'lost the lease while renewing; a later renewal stands',
        authorizerAppId: '[redacted]',
        refreshToken: '[redacted]',
        job: 'refresh',
        errcode: 61023,
      }),
    ]);
    expect(output).not.toContain(token);
  });
});

describe('searchCorrelationId', () => {
  it('reads a dotted path and takes only a request-id-shaped string', () => {
    const path = 'requestContext.requestId';
    expect(searchCorrelationId(path, { requestContext: { requestId: 'JKJaXmPLvHcESHA=' } })).toBe(
      'JKJaXmPLvHcESHA='
    );
    expect(searchCorrelationId(path, { requestContext: { requestId: 'a b' } })).toBeUndefined();
    expect(searchCorrelationId(path, { requestContext: { requestId: 7 } })).toBeUndefined();
    expect(searchCorrelationId(path, { requestContext: 'x' })).toBeUndefined();
    expect(searchCorrelationId(path, null)).toBeUndefined();
    expect(searchCorrelationId(path, { requestContext: { requestId: 'x'.repeat(65) } })).toBe(
      undefined
    );
  });
});

describe('inLambda', () => {
  const rejecting = inLambda(
    http(
      powertoolsDeps,
      async () => {
        throw new InvalidRequestError('nonce is malformed');
      },
      { format: 'text', route: 'POST /wechat/events', rejectedMetric: MetricName.CallbackRejected }
    )
  );

  it('logs an HTTP handler’s error with the API request id and the Lambda request id', async () => {
    const output = await captureOutput(async () => {
      const answer = await rejecting(
        withRequestId(httpEvent({ method: 'POST', path: '/wechat/events' }), 'Ab1CdEfGhIjKlM='),
        context('lambda-request-1')
      );
      expect(answer.statusCode).toBe(400);
    });
    expect(logEntries(output)).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'request rejected',
        correlation_id: 'Ab1CdEfGhIjKlM=',
        function_request_id: 'lambda-request-1',
        function_name: 'auth-event',
        code: 'invalid_request',
        route: 'POST /wechat/events',
        status: 400,
      }),
    ]);
  });

  it('publishes what the error path counts within the same invocation, then forgets the correlation id', async () => {
    const first = await captureOutput(async () => {
      await rejecting(
        withRequestId(httpEvent({ method: 'POST', path: '/wechat/events' }), 'first-request='),
        context('lambda-request-2')
      );
    });
    const later = await captureOutput(async () => {
      observability().logger.info('between invocations');
    });

    const metrics = parseOutput(first).filter((line) => line.kind === 'metric');
    expect(metrics.map((m) => m.kind === 'metric' && m.entry[MetricName.CallbackRejected])).toEqual(
      [1, 1]
    );
    expect(observability().metrics.hasStoredMetrics()).toBe(false);
    expect(logEntries(later)[0]).not.toHaveProperty('correlation_id');
  });

  it('takes no correlation id from a directly invoked handler’s payload', async () => {
    const deployed = inLambda(
      invoked(async () => {
        (await powertoolsDeps()).log.info('answered');
        return {};
      })
    );
    const output = await captureOutput(async () => {
      await deployed({ requestContext: { requestId: 'chosen-by-caller' } }, context('r-3'));
    });
    expect(logEntries(output)).toEqual([
      expect.not.objectContaining({ correlation_id: expect.anything() }),
    ]);
    expect(output).not.toContain('chosen-by-caller');
  });

  it('writes nothing for an invocation that logs and counts nothing', async () => {
    const deployed = inLambda(invoked(async () => ({ ok: true })));
    const output = await captureOutput(async () => {
      await deployed({}, context('r-4', 'get-token'));
    });
    expect(output).toBe('');
  });
});
