import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * How every function is bundled (NodejsFunction, local esbuild): minified ESM with source maps and kept names
 * (error `name`s stay readable), and the AWS SDK bundled in. Also read by `bench/cold-start.ts`, which
 * measures exactly these settings.
 *
 * `bundleAwsSDK`: the pinned SDK from package-lock.json goes into each bundle instead of resolving from the
 * runtime's own copy. The deployed code is then the code the tests ran (the runtime's SDK version is AWS's
 * choice and changes under a deployed function), and `npm run bench` measured it as the faster cold start:
 * one minified, tree-shaken file loads in well under half the time of the runtime's CommonJS SDK (docs/deploy.md,
 * What is deployed).
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-sdk-included
 */
export const LAMBDA_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  keepNames: true,
  mainFields: ['module', 'main'],
  // ESM output: give bundled CommonJS dependencies a working `require`.
  banner: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
  bundleAwsSDK: true,
} satisfies BundlingOptions;
