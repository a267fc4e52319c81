import { App } from 'aws-cdk-lib';
import { StackConfigError } from './config';
import { addTokenService } from './token-service-app';

const app = new App();
try {
  addTokenService(app);
} catch (error) {
  if (!(error instanceof StackConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
