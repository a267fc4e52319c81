import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ServiceErrorCode } from '../../client/src/index';
import type { CallerErrorCode } from '../../shared/errors';
import { ROOT } from '../e2e/sandbox-process';

/**
 * `@wechat-token-service/client` is its own package: it depends on the get-token and call-wechat contracts
 * and the shape of the message events only, never on the service's code, and its one runtime dependency is
 * the Lambda client (besides Node's own modules: `node:crypto` signs the JS-SDK config).
 */

const CLIENT = join(ROOT, 'client');
const SCHEMA = 'schemas/wechat-message-event.schema.json';

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : [join(dir, entry.name)]
    )
  );
  return nested.flat().filter((file) => file.endsWith('.ts'));
}

describe('the client package', () => {
  it("imports only its own modules, Node's built-ins and @aws-sdk/client-lambda", async () => {
    const imports: string[] = [];
    for (const file of await sourceFiles(join(CLIENT, 'src'))) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)) {
        imports.push((match[1] ?? match[2]) as string);
      }
    }

    expect(imports.length).toBeGreaterThan(0);
    expect(
      imports.filter(
        (spec) =>
          !/^\.\/[\w-]+\.js$/.test(spec) &&
          !/^node:[\w/]+$/.test(spec) &&
          spec !== '@aws-sdk/client-lambda'
      )
    ).toEqual([]);
  });

  it('declares @aws-sdk/client-lambda as its only dependency and exports built ESM with types', async () => {
    const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8'));

    expect(manifest).toMatchObject({
      name: '@wechat-token-service/client',
      type: 'module',
      exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
      scripts: { prepare: expect.any(String) },
    });
    expect(Object.keys(manifest.dependencies)).toEqual(['@aws-sdk/client-lambda']);
    expect(manifest.devDependencies).toBeUndefined();
  });

  it('ships the JSON Schema of the message events, importable as a subpath of the package', async () => {
    const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8'));
    const { stdout } = await promisify(execFile)(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: CLIENT }
    );
    const [packed] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    const resolved = createRequire(join(ROOT, 'package.json')).resolve(
      `@wechat-token-service/client/${SCHEMA}`
    );

    expect(manifest.files).toContain('schemas');
    expect(manifest.exports['./schemas/*']).toBe('./schemas/*');
    expect(packed.files.map((file) => file.path)).toContain(SCHEMA);
    expect(resolved).toBe(join(CLIENT, SCHEMA));
    expect(JSON.parse(await readFile(resolved, 'utf8'))).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'WechatMessageEvent',
    });
  });

  it('names exactly the codes get-token and call-wechat answer (checked by npm run typecheck)', () => {
    expectTypeOf<ServiceErrorCode>().toEqualTypeOf<CallerErrorCode>();
  });

  it('is built from the current sources (npm ci builds it; npm run build -w client after a change)', async () => {
    const newestSource = Math.max(
      ...(await Promise.all(
        (await sourceFiles(join(CLIENT, 'src'))).map(async (file) => (await stat(file)).mtimeMs)
      ))
    );
    const built = await stat(join(CLIENT, 'dist', 'index.js')).catch(() => undefined);

    expect(built, 'client/dist/index.js exists').toBeDefined();
    expect(built?.mtimeMs ?? 0).toBeGreaterThanOrEqual(newestSource);
  });
});
