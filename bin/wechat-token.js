#!/usr/bin/env node
// `npx wechat-token …`: the operations CLI (cli/wechat-token.ts), run from the repository's TypeScript
// through tsx, a devDependency that `npm ci` installs (this bin belongs to the private root package).
import { register } from 'tsx/esm/api';

// A reader that stops early (`| head`) is not a failure of the command.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});
register();
const { run } = await import('../cli/wechat-token.ts');
process.exitCode = await run(process.argv.slice(2));
