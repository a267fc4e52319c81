import { type App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { parseStackConfig } from './config';
import { TokenServiceStack } from './token-service-stack';

/**
 * Adds the token service to an app: validates the whole context (unknown keys included), registers the
 * cdk-nag AWS Solutions checks (a finding that is neither fixed nor acknowledged fails synth) and creates the
 * stack `WeChatTokenService-<stage>`. Shared by `infra/app.ts` and the infra tests so both check the same
 * thing.
 *
 * @throws StackConfigError listing every unknown or invalid context key.
 */
export function addTokenService(app: App): TokenServiceStack {
  const config = parseStackConfig(app.node.getAllContext());
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true }),
    new ServerlessChecks(app, { verbose: true })
  );
  const stack = new TokenServiceStack(app, `WeChatTokenService-${config.stage}`, {
    config,
    // Only the region: no account, so synth stays offline (no lookups) wherever it runs.
    ...(config.region ? { env: { region: config.region } } : {}),
    description: `WeChat third-party platform token service (${config.stage})`,
  });
  Tags.of(stack).add('service', 'wechat-token-service');
  Tags.of(stack).add('stage', config.stage);
  return stack;
}
