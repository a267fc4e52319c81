import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map((m) => {
    const specifier = m[1] as string;
    return specifier.startsWith('.')
      ? relative(root, resolve(root, dirname(file), specifier))
      : specifier;
  });
}

const violations = (folder: string, banned: (target: string) => boolean) =>
  sources(folder).flatMap((file) =>
    imports(file)
      .filter(banned)
      .map((target) => `${file} → ${target}`)
  );

describe('dependency direction: infra → functions (by file name) → shared', () => {
  it('shared/ knows nothing about Lambda, middy, CDK, functions/ or infra/', () => {
    expect(
      violations(
        'shared',
        (t) =>
          /^(functions|infra)\//.test(t) || /^(aws-cdk-lib|constructs|@middy\/|aws-lambda)/.test(t)
      )
    ).toEqual([]);
  });

  it('infra/ imports no runtime code (handlers are named by entry file only)', () => {
    expect(violations('infra', (t) => /^(functions|shared|test)\//.test(t))).toEqual([]);
  });

  it('handlers and the Lambda edge never import the sandbox or tests', () => {
    const edge = (t: string) => /^(local|test|bench|client)\//.test(t);
    expect(violations('functions', edge)).toEqual([]);
    expect(violations('shared', edge)).toEqual([]);
  });

  it('inside shared/, the concern folders import only downward: jobs → messages → egress, authorization → serving, budgets', () => {
    const below: Record<string, readonly string[]> = {
      jobs: ['messages', 'authorization', 'serving', 'budgets'],
      messages: ['egress', 'authorization', 'serving'],
      egress: ['serving'],
      authorization: ['serving', 'budgets'],
      serving: [],
      budgets: [],
    };
    const upward = Object.entries(below).flatMap(([folder, allowed]) =>
      violations(`shared/${folder}`, (t) => {
        const concern = /^shared\/(egress|jobs|messages|authorization|serving|budgets)\//.exec(
          t
        )?.[1];
        return concern !== undefined && concern !== folder && !allowed.includes(concern);
      })
    );
    expect(upward).toEqual([]);
  });

  it('only functions/lib/deps.ts and the adapters it wires construct AWS SDK clients', () => {
    const constructing = [...sources('functions'), ...sources('shared')].filter((file) =>
      /new (sdk\.)?(DynamoDBClient|SecretsManagerClient|EventBridgeClient|LambdaClient)\(/.test(
        readFileSync(join(root, file), 'utf8')
      )
    );
    expect(constructing.sort()).toEqual([
      'functions/lib/deps.ts',
      'functions/lib/event-bridge-publisher.ts',
      'functions/lib/refresh-job-starter.ts',
    ]);
  });
});

it('reads the imports it checks (a broken parser would pass everything)', () => {
  expect(imports('functions/lib/deps.ts')).toEqual(
    expect.arrayContaining(['@aws-sdk/client-dynamodb', 'shared/store/dynamodb-token-store'])
  );
});
