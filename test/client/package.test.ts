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
 * and the shape of the message and lifecycle events only, never on the service's code, and its one runtime
 * dependency is the Lambda client (besides Node's own modules: `node:crypto` signs the JS-SDK config).
 */

const CLIENT = join(ROOT, 'client');
let packing: Promise<string[]> | undefined;

/** The paths `npm pack` would put in the client's tarball (asked once for the file's tests). */
function packedPaths(): Promise<string[]> {
  packing ??= promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: CLIENT,
  }).then(({ stdout }) => {
    const [packed] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    return packed.files.map((file) => file.path);
  });
  return packing;
}

/** The JSON Schemas of the events on the bus, by their `title`. */
const SCHEMAS = {
  WechatMessageEvent: 'schemas/wechat-message-event.schema.json',
  LifecycleEvent: 'schemas/lifecycle-event.schema.json',
} as const;

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

  it('takes @aws-sdk/client-lambda as its only (peer) dependency and exports ESM and CommonJS, each with its types', async () => {
    const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8'));

    expect(manifest).toMatchObject({
      name: '@wechat-token-service/client',
      type: 'module',
      license: 'MIT',
      private: false,
      exports: {
        '.': {
          import: { types: './dist/index.d.ts', default: './dist/index.js' },
          require: { types: './dist/cjs/index.d.ts', default: './dist/cjs/index.js' },
        },
      },
      main: './dist/cjs/index.js',
      types: './dist/cjs/index.d.ts',
    });
    expect(Object.keys(manifest.peerDependencies)).toEqual(['@aws-sdk/client-lambda']);
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.devDependencies).toBeUndefined();
    expect(
      manifest.scripts.prepare,
      'npm does not run prepare on a tarball install'
    ).toBeUndefined();
    expect(manifest.scripts.prepack).toEqual(expect.any(String));
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'schemas']));
  });

  it('marks its CommonJS build as CommonJS and ships a LICENSE, README and CHANGELOG', async () => {
    const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8'));
    const paths = await packedPaths();

    expect(JSON.parse(await readFile(join(CLIENT, 'dist/cjs/package.json'), 'utf8'))).toEqual({
      type: 'commonjs',
    });
    expect(paths).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'CHANGELOG.md',
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cjs/package.json',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
      ])
    );
    expect(await readFile(join(CLIENT, 'CHANGELOG.md'), 'utf8')).toContain(
      `## [${manifest.version}]`
    );
  });

  it('ships the JSON Schemas of the message and lifecycle events, importable as subpaths of the package', async () => {
    const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8'));
    const paths = await packedPaths();

    expect(manifest.files).toContain('schemas');
    expect(manifest.exports['./schemas/*']).toBe('./schemas/*');
    for (const [title, schema] of Object.entries(SCHEMAS)) {
      const resolved = createRequire(join(ROOT, 'package.json')).resolve(
        `@wechat-token-service/client/${schema}`
      );
      expect(paths).toContain(schema);
      expect(resolved).toBe(join(CLIENT, schema));
      expect(JSON.parse(await readFile(resolved, 'utf8'))).toMatchObject({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        title,
      });
    }
  });

  it('names exactly the codes get-token and call-wechat answer (checked by npm run typecheck)', () => {
    expectTypeOf<ServiceErrorCode>().toEqualTypeOf<CallerErrorCode>();
  });

  it('is built from the current sources, ESM and CommonJS (npm ci builds it; npm run build -w client after a change)', async () => {
    const newestSource = Math.max(
      ...(await Promise.all(
        (await sourceFiles(join(CLIENT, 'src'))).map(async (file) => (await stat(file)).mtimeMs)
      ))
    );
    for (const output of ['dist/index.js', 'dist/cjs/index.js']) {
      const built = await stat(join(CLIENT, output)).catch(() => undefined);

      expect(built, `client/${output} exists`).toBeDefined();
      expect(built?.mtimeMs ?? 0).toBeGreaterThanOrEqual(newestSource);
    }
  });
});
