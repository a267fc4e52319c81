import { App } from 'aws-cdk-lib';
import {
  DEPLOY_CONTEXT_FILE,
  DEPLOY_CONTEXT_FILE_ENV,
  readDeployContextFile,
  StackConfigError,
} from './config';
import { addTokenService } from './token-service-app';

// The operator's settings file gives every cdk command (bootstrap, diff, deploy, destroy) the same context;
// `-c key=value` on the command line overrides a key from it.
try {
  const file = process.env[DEPLOY_CONTEXT_FILE_ENV] || DEPLOY_CONTEXT_FILE;
  addTokenService(new App({ context: readDeployContextFile(file) }));
} catch (error) {
  if (!(error instanceof StackConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
