import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addTokenService } from '../../../infra/token-service-app';

const cdkJson = JSON.parse(readFileSync(new URL('../../../cdk.json', import.meta.url), 'utf8'));

/** The seven functions by construct id (construct ids are stable: they are the logical-id prefixes). */
export const FUNCTION_IDS = [
  'AuthEvent',
  'AuthorizePage',
  'AuthorizeCallback',
  'Refresh',
  'GetToken',
  'CallWeChat',
  'WechatMessage',
] as const;
export type FunctionId = (typeof FUNCTION_IDS)[number];

export interface NagViolation {
  readonly ruleName: string;
  readonly paths: string[];
}

export interface SynthesizedStack {
  readonly template: Template;
  readonly stackName: string;
  /** cdk-nag findings that are neither fixed nor acknowledged. */
  readonly violations: NagViolation[];
}

type Resource = { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown };

/**
 * Synthesizes the app the way `cdk synth` does (cdk.json feature flags, cdk-nag plugin) with esbuild
 * bundling skipped, and returns the template and the nag report. A nag finding makes `app.synth()` throw
 * after writing the template and the report, so the error is caught and the report read instead.
 */
export function synthStack(context: Record<string, string>): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), 'infra-test-'));
  try {
    const app = new App({
      outdir,
      context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context },
    });
    const stack = addTokenService(app);
    let synthError: unknown;
    try {
      app.synth();
    } catch (error) {
      synthError = error;
    }
    const reportFile = join(outdir, 'validation-report.json');
    const report = existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : {};
    const violations: NagViolation[] = (report.pluginReports ?? []).flatMap(
      (plugin: {
        violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
      }) =>
        plugin.violations.map((v) => ({
          ruleName: v.ruleName,
          paths: v.violatingConstructs.map((c) => c.constructPath),
        }))
    );
    const templateFile = join(outdir, `${stack.artifactId}.template.json`);
    if (!existsSync(templateFile)) throw synthError;
    if (synthError && violations.length === 0) throw synthError;
    const template = Template.fromJSON(JSON.parse(readFileSync(templateFile, 'utf8')));
    return { template, stackName: stack.stackName, violations };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Logical id of one of the seven functions (`AuthEvent9D1F008E`…). */
export function functionLogicalId(template: Template, id: FunctionId): string {
  const ids = Object.keys(template.findResources('AWS::Lambda::Function')).filter((logicalId) =>
    new RegExp(`^${id}[0-9A-F]{8}$`).test(logicalId)
  );
  if (ids.length !== 1) throw new Error(`expected one function ${id}, found ${ids.join(', ')}`);
  return ids[0]!;
}

export function resource(template: Template, logicalId: string): Resource {
  const found = (template.toJSON().Resources as Record<string, Resource>)[logicalId];
  if (!found) throw new Error(`no resource ${logicalId}`);
  return found;
}

export function functionProps(template: Template, id: FunctionId) {
  return resource(template, functionLogicalId(template, id)).Properties as {
    Environment: { Variables: Record<string, unknown> };
    VpcConfig: { SubnetIds: { Ref: string }[]; SecurityGroupIds: unknown[] };
    Role: { 'Fn::GetAtt': [string, string] };
    [key: string]: unknown;
  };
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const refOf = (value: unknown) => (value as { Ref?: string } | undefined)?.Ref;

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every IAM statement that applies to a function's role: inline policies and attached AWS::IAM::Policy. */
export function roleStatements(template: Template, id: FunctionId): Statement[] {
  const roleId = functionProps(template, id).Role['Fn::GetAtt'][0];
  const role = resource(template, roleId).Properties as {
    Policies?: { PolicyDocument: { Statement: Statement[] } }[];
    ManagedPolicyArns?: unknown[];
  };
  if (role.ManagedPolicyArns?.length) throw new Error(`${id} role has managed policies attached`);
  const inline = (role.Policies ?? []).flatMap((p) => p.PolicyDocument.Statement);
  const attached = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) =>
      (p.Properties.Roles as { Ref: string }[]).some(
        (r) => JSON.stringify(r) === `{"Ref":"${roleId}"}`
      )
    )
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  return [...inline, ...attached];
}

/** Actions of a role's statements, each paired with the statement's resources. */
export function actionsOf(statements: Statement[]): { action: string; resources: unknown[] }[] {
  return statements.flatMap((s) =>
    asArray(s.Action).map((action) => ({ action, resources: asArray(s.Resource) }))
  );
}

/**
 * For a function: the NAT gateway and EIP allocation its subnets' default routes lead to, or a
 * description of what else they lead to.
 */
export function defaultRouteTargets(template: Template, id: FunctionId): unknown[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const subnetIds = functionProps(template, id).VpcConfig.SubnetIds.map((s) => s.Ref);
  return subnetIds.map((subnetId) => {
    const association = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::EC2::SubnetRouteTableAssociation' &&
        refOf(r.Properties?.SubnetId) === subnetId
    );
    const routeTableId = refOf(association?.Properties?.RouteTableId);
    const defaultRoute = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::EC2::Route' &&
        r.Properties?.DestinationCidrBlock === '0.0.0.0/0' &&
        refOf(r.Properties?.RouteTableId) === routeTableId
    );
    const natId = refOf(defaultRoute?.Properties?.NatGatewayId);
    if (!routeTableId || !natId)
      return { subnetId, defaultRoute: defaultRoute?.Properties ?? 'none' };
    return { nat: natId, allocationId: resources[natId]?.Properties?.AllocationId };
  });
}

/**
 * Renders an output value (`Fn::Join` of strings, `Ref`s and `Fn::GetAtt`s) to text, with `refs` giving the
 * value of each logical id and `fallback` any other intrinsic (or, without it, failing on one).
 */
export function resolveJoin(
  value: unknown,
  refs: Record<string, string>,
  fallback?: (intrinsic: unknown) => string
): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  const id = (v.Ref as string | undefined) ?? (v['Fn::GetAtt'] as string[] | undefined)?.[0];
  if (id !== undefined && id in refs) return refs[id]!;
  if (v['Fn::Join']) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolveJoin(part, refs, fallback)).join(separator);
  }
  if (fallback) return fallback(value);
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}
