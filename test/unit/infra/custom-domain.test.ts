import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMPONENT_APPID } from '../../support/test-ids';
import { type NagViolation, synthStack } from './synth-stack';

const CERTIFICATE =
  'arn:aws:acm:ap-east-1:123456789012:certificate/0123abcd-4567-89ab-cdef-0123456789ab';
const ZONE_ID = 'Z0123456789ABCDEFGHIJ';

const only = (template: Template, type: string) => {
  const found = Object.values(template.findResources(type));
  expect(found, type).toHaveLength(1);
  return found[0]?.Properties as Record<string, unknown>;
};
const outputs = (template: Template) =>
  Object.fromEntries(
    Object.entries(template.findOutputs('*')).map(([id, o]) => [id, JSON.stringify(o.Value)])
  );

describe('the platform’s domain in the stack (authorizeDomainCertificateArn, hostedZoneId/Name)', () => {
  let template: Template;
  let violations: NagViolation[];
  beforeAll(() => {
    ({ template, violations } = synthStack({
      componentAppId: COMPONENT_APPID,
      authorizeDomain: 'auth.example.com',
      authorizeDomainCertificateArn: CERTIFICATE,
      hostedZoneId: ZONE_ID,
      hostedZoneName: 'example.com',
      disableExecuteApiEndpoint: 'true',
    }));
  });

  it('creates the custom domain with the certificate and maps it to the API’s stage', () => {
    expect(only(template, 'AWS::ApiGatewayV2::DomainName')).toMatchObject({
      DomainName: 'auth.example.com',
      DomainNameConfigurations: [{ CertificateArn: CERTIFICATE, EndpointType: 'REGIONAL' }],
    });
    const api = Object.keys(template.findResources('AWS::ApiGatewayV2::Api'))[0];
    const stage = Object.keys(template.findResources('AWS::ApiGatewayV2::Stage'))[0];
    const domain = Object.keys(template.findResources('AWS::ApiGatewayV2::DomainName'))[0];
    expect(only(template, 'AWS::ApiGatewayV2::ApiMapping')).toMatchObject({
      ApiId: { Ref: api },
      DomainName: { Ref: domain },
      Stage: '$default',
    });
    // Created after the stage it names (and deleted before it, so `cdk destroy` goes through).
    const [mapping] = Object.values(template.findResources('AWS::ApiGatewayV2::ApiMapping'));
    expect(mapping?.DependsOn).toEqual(expect.arrayContaining([stage]));
  });

  it('adds the alias record in the given zone, and turns the execute-api endpoint off', () => {
    expect(only(template, 'AWS::Route53::RecordSet')).toMatchObject({
      Name: 'auth.example.com.',
      Type: 'A',
      HostedZoneId: ZONE_ID,
      AliasTarget: { DNSName: expect.anything(), HostedZoneId: expect.anything() },
    });
    expect(only(template, 'AWS::ApiGatewayV2::Api')).toMatchObject({
      DisableExecuteApiEndpoint: true,
    });
  });

  it('outputs the URLs to enter in the WeChat console on the platform’s domain', () => {
    const out = outputs(template);
    expect(out.EventUrl).toBe('"https://auth.example.com/wechat/events"');
    expect(out.MessageUrl).toBe('"https://auth.example.com/wechat/messages/$APPID$"');
    expect(out.AuthorizePageUrl).toBe('"https://auth.example.com/authorize"');
    expect(out.AuthorizeCallbackUrl).toBe('"https://auth.example.com/authorize/callback"');
    expect(out).not.toHaveProperty('AuthorizeDomainTarget');
  });

  it('passes the cdk-nag checks with the domain in it', () => {
    expect(violations).toEqual([]);
  });

  it('without a hosted zone, names the target to point the domain at, and keeps execute-api', () => {
    const { template: unzoned } = synthStack({
      componentAppId: COMPONENT_APPID,
      authorizeDomain: 'auth.example.com',
      authorizeDomainCertificateArn: CERTIFICATE,
    });
    expect(unzoned.findResources('AWS::Route53::RecordSet')).toEqual({});
    expect(outputs(unzoned).AuthorizeDomainTarget).toContain('RegionalDomainName');
    expect(only(unzoned, 'AWS::ApiGatewayV2::Api').DisableExecuteApiEndpoint).toBe(false);
  });
});
