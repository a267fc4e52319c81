import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/wechat-token';
import type { ListAnswer, StatusAnswer } from '../../shared/jobs/job-contract';
import { freePort, ROOT } from '../e2e/sandbox-process';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import {
  AUTHORIZER_APPID,
  authorizerAppId,
  COMPONENT_APPID,
  OTHER_AUTHORIZER_APPID,
} from '../support/test-ids';

/**
 * `wechat-token` against the sandbox's Invoke API (`--endpoint-url`): the real refresh handler, dynalite
 * and the WeChat simulator, through a real `LambdaClient`. Invokes are counted where they arrive.
 */
const REVOKED = OTHER_AUTHORIZER_APPID;
const OTHER = authorizerAppId(3);

let h: Harness;
let invokes = 0;

beforeAll(async () => {
  h = await startHarness();
  for (const appId of [AUTHORIZER_APPID, REVOKED, OTHER]) await authorizeMerchant(h, appId);
  await h.simulator.revoke(REVOKED);
  await h.refresh();
  h.clock.advance(90_000);
  h.service.server.on('request', (request) => {
    if (request.url?.includes('/2015-03-31/functions/refresh/invocations')) invokes += 1;
  });
});
afterAll(() => h?.close());
beforeEach(() => {
  invokes = 0;
});

/** Runs the CLI in this process with no AWS settings in the environment, as a fresh shell would. */
async function cli(...args: string[]) {
  let out = '';
  let err = '';
  const io = {
    out: (text: string) => {
      out += text;
    },
    err: (text: string) => {
      err += text;
    },
    errIsTty: false,
  };
  const code = await run([...args, '--endpoint-url', h.service.url], io, {});
  return { code, out, err };
}

const storedToken = async (appId: string) =>
  (await h.store.getAuthorizer(COMPONENT_APPID, appId))?.accessToken as string;

describe('status', () => {
  it('shows the ticket, the component token, the counts and the last sweep, aligned', async () => {
    const { code, out, err } = await cli('status');
    expect(code).toBe(0);
    expect(err).toBe('');
    const lines = out.trimEnd().split('\n');
    expect(lines.map((line) => line.slice(0, 17))).toEqual([
      'platform         ',
      'ticket           ',
      'component token  ',
      'authorizers      ',
      'last sweep       ',
      'last reconcile   ',
      'WeChat quota     ',
    ]);
    expect(lines[0]).toContain(COMPONENT_APPID);
    expect(lines[1]).toMatch(/created .* ago, received .* ago: usable$/);
    expect(lines[2]).toMatch(/^component token {2}promised until \d{4}-.*Z \(in 1 h \d+ min\)/);
    expect(lines[3]).toBe(
      'authorizers      3: 2 active, 1 revoked, 0 needs_reauthorization, 0 without_api_permission, 0 awaiting_authorization_code'
    );
    expect(lines[4]).toMatch(/^last sweep {7}.* ago: component \w+; \d+ due, \d+ refreshed/);
    expect(lines[5]).toMatch(/^last reconcile {3}(none recorded yet|.* ago: \d+ listed)/);
    // The sweep read WeChat's quotas (once a day): every watched API against its daily limit.
    expect(lines[6]).toMatch(/^WeChat quota {5}.* ago: api_\w+ \d+ % \(\d+\/\d+\)/);
    expect(invokes).toBe(1);
  });

  it('prints one JSON document with --json', async () => {
    const { code, out } = await cli('status', '--json');
    expect(code).toBe(0);
    const status = JSON.parse(out) as StatusAnswer;
    expect(status.componentAppId).toBe(COMPONENT_APPID);
    expect(status.authorizers).toEqual({
      total: 3,
      active: 2,
      revoked: 1,
      needs_reauthorization: 0,
      without_api_permission: 0,
      awaiting_authorization_code: 0,
    });
    expect(status.ticket?.usable).toBe(true);
    expect(status.componentToken?.secondsLeft).toBeGreaterThan(0);
    expect(status.lastRefresh?.summary).toMatchObject({ authorizers: { failed: {} } });
  });
});

describe('list', () => {
  it('prints an aligned table sorted by appid, with the count on stderr', async () => {
    const { code, out, err } = await cli('list');
    expect(code).toBe(0);
    const [header, ...rows] = out.trimEnd().split('\n');
    expect(header).toMatch(
      /^APPID +STATE +PERMISSIONS +LAST REFRESH +NEXT REFRESH +EXPIRES +LAST ERROR$/
    );
    expect(rows.map((row) => row.split(/ {2,}/).slice(0, 2))).toEqual([
      [AUTHORIZER_APPID, 'active'],
      [REVOKED, 'revoked'],
      [OTHER, 'active'],
    ]);
    const stateColumn = header?.indexOf('STATE');
    expect(rows.map((row) => row.indexOf(row.split(/ {2,}/)[1] as string))).toEqual([
      stateColumn,
      stateColumn,
      stateColumn,
    ]);
    expect(rows[0]).toMatch(/ ago +in 1 h \d+ min +in 1 h \d+ min +-$/);
    expect(err).toBe('3 authorizers\n');
  });

  it('filters by state', async () => {
    const revoked = await cli('list', '--state', 'revoked');
    expect(revoked.out.trimEnd().split('\n').slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^${REVOKED} +revoked `)),
    ]);
    const none = await cli('list', '--state', 'needs_reauthorization');
    expect(none).toEqual({
      code: 0,
      out: 'no authorizers in state needs_reauthorization\n',
      err: '',
    });
  });

  it('pages one invocation at a time with progress on stderr, streaming one JSON document', async () => {
    const { code, out, err } = await cli('list', '--json', '--page-size', '1');
    expect(code).toBe(0);
    const listed = JSON.parse(out) as ListAnswer;
    expect(listed.authorizers.map((a) => a.authorizerAppId).sort()).toEqual([
      AUTHORIZER_APPID,
      REVOKED,
      OTHER,
    ]);
    expect(listed.cursor).toBeUndefined();
    expect(invokes).toBe(3);
    expect(err).toBe('listed 1 authorizers…\nlisted 2 authorizers…\n');
    for (const appId of [AUTHORIZER_APPID, OTHER])
      expect(out).not.toContain(await storedToken(appId));
  });

  it('stops at --limit, with the cursor in the JSON document when more are left', async () => {
    const { out } = await cli('list', '--json', '--limit', '2', '--page-size', '1');
    const listed = JSON.parse(out) as ListAnswer;
    expect(listed.authorizers).toHaveLength(2);
    expect(listed.cursor).toEqual(expect.any(String));
    expect(invokes).toBe(2);
  });

  it('says how many --limit showed and that there are more', async () => {
    const { code, out, err } = await cli('list', '--limit', '2');
    expect(code).toBe(0);
    expect(out.trimEnd().split('\n')).toHaveLength(3);
    expect(err).toBe(
      'the first 2 authorizers shown; there are more: raise --limit, or drop it, to list them all\n'
    );
    const all = await cli('list', '--limit', '3');
    expect(all.err).toBe('3 authorizers\n');
  });
});

describe('show', () => {
  it('shows state, permissions, last and next refresh and the promise, never the token', async () => {
    const token = await storedToken(AUTHORIZER_APPID);
    for (const json of [false, true]) {
      const { code, out, err } = await cli('show', AUTHORIZER_APPID, ...(json ? ['--json'] : []));
      expect(code).toBe(0);
      expect(out + err).not.toContain(token);
      expect(out).not.toMatch(/accessToken|access token|refreshToken/);
    }
    const { out } = await cli('show', AUTHORIZER_APPID);
    expect(out.trimEnd().split('\n')).toEqual([
      `authorizer      ${AUTHORIZER_APPID}`,
      'state           active',
      expect.stringMatching(/^permissions {5}\d+(, \d+)*$/),
      expect.stringMatching(/^authorized {6}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(.* ago\)$/),
      expect.stringMatching(/^last refresh {4}\S+Z \(.* ago\)$/),
      expect.stringMatching(/^next refresh {4}\S+Z \(in 1 h \d+ min\)$/),
      expect.stringMatching(/^promised until {2}\S+Z \(in 1 h \d+ min\)$/),
      'last error      -',
    ]);
  });

  it('reveals the token only with --reveal, says so on stderr, and the service logs the reveal', async () => {
    const token = await storedToken(AUTHORIZER_APPID);
    const before = h.log.entries.length;
    const plain = await cli('show', AUTHORIZER_APPID, '--reveal');
    expect(plain.code).toBe(0);
    expect(plain.out).toContain(`access token    ${token}\n`);
    expect(plain.err).toMatch(/the reveal is logged/);
    const json = await cli('show', AUTHORIZER_APPID, '--reveal', '--json');
    expect(JSON.parse(json.out)).toMatchObject({ accessToken: token });
    const reveals = h.log.entries
      .slice(before)
      .filter((e) => e.message === 'an operator revealed an authorizer access token');
    expect(reveals).toEqual([
      expect.objectContaining({
        level: 'warn',
        fields: { job: 'show', authorizerAppId: AUTHORIZER_APPID },
      }),
      expect.objectContaining({
        level: 'warn',
        fields: { job: 'show', authorizerAppId: AUTHORIZER_APPID },
      }),
    ]);
    expect(h.log.text()).not.toContain(token);
  });

  it('exits 1 with the service’s code for an unknown authorizer', async () => {
    const unknown = 'wxc1i0unknown00001';
    expect(await cli('show', unknown)).toEqual({
      code: 1,
      out: '',
      err: `wechat-token: authorizer_not_found: authorizer ${unknown} has not authorized this platform\n`,
    });
    const json = await cli('show', unknown, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.err)).toEqual({
      error: {
        code: 'authorizer_not_found',
        message: `authorizer ${unknown} has not authorized this platform`,
      },
    });
  });
});

describe('refresh', () => {
  it('renews the token now with exactly one api_authorizer_token call', async () => {
    const before = await storedToken(OTHER);
    const calls = h.simulator.callCount('api_authorizer_token');
    const { code, out, err } = await cli('refresh', OTHER);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(h.simulator.callCount('api_authorizer_token')).toBe(calls + 1);
    const after = await storedToken(OTHER);
    expect(after).not.toBe(before);
    expect(out).not.toContain(after);
    expect(out.split('\n')[0]).toMatch(new RegExp(`^renewed ${OTHER}: issued \\S+Z \\(.*\\)$`));
    expect(out).toContain('\nstate           active\n');
    expect(invokes).toBe(1);
  });

  it('answers with --json, and refuses a revoked authorizer without calling WeChat', async () => {
    const json = await cli('refresh', AUTHORIZER_APPID, '--json');
    expect(JSON.parse(json.out)).toMatchObject({
      outcome: 'refreshed',
      authorizer: { authorizerAppId: AUTHORIZER_APPID, status: 'active', lastErrorCode: null },
    });
    const calls = h.simulator.callCount('api_authorizer_token');
    const revoked = await cli('refresh', REVOKED);
    expect(revoked.code).toBe(1);
    expect(revoked.err).toBe(
      `wechat-token: authorizer_revoked: authorizer ${REVOKED} revoked the authorization\n`
    );
    expect(h.simulator.callCount('api_authorizer_token')).toBe(calls);
  });
});

describe('reconcile', () => {
  it('reconciles, shows progress and the summary, and status then shows the run', async () => {
    const { code, out, err } = await cli('reconcile');
    expect(code).toBe(0);
    expect(err).toBe('reconciling with WeChat’s authorizer list (up to a few minutes)…\n');
    expect(out).toMatch(/^listed by WeChat {7}2\nimported {15}0\n/);
    expect(out).toMatch(/\ntruncated {14}no\n$/);
    const { out: status } = await cli('status');
    expect(status).toMatch(
      /\nlast reconcile {3}just now: 2 listed, 0 imported, 0 reactivated, 0 failed\nWeChat quota /
    );
    const json = await cli('reconcile', '--json');
    expect(JSON.parse(json.out)).toMatchObject({ listed: 2, imported: 0, truncated: false });
  });
});

describe('usage and transport errors', () => {
  it.each([
    [[], /no command given/],
    [['purge'], /unknown command "purge"/],
    [['show'], /show takes one <appid>/],
    [['show', 'not-an-appid'], /"not-an-appid" is not an appid/],
    [['status', 'extra'], /status takes no argument/],
    [['list', '--reveal'], /--reveal is an option of show only/],
    [['list', '--state', 'paused'], /--state must be one of active, revoked/],
    [['list', '--page-size', '0'], /--page-size must be an integer from 1 to 1000/],
    [['status', '--verbose'], /^unknown option --verbose$/],
    [['status', '--function', 'f', '--stack', 's'], /give one/],
  ])('exits 2 naming the problem in one line, and a hint, for %j', async (args, message) => {
    const { code, out, err } = await cli(...args);
    expect(code).toBe(2);
    expect(out).toBe('');
    const [problem, hint, ...more] = err.split('\n');
    expect(problem).toMatch(/^wechat-token: /);
    expect(problem?.slice('wechat-token: '.length)).toMatch(message);
    expect(hint).toBe('run wechat-token --help for usage');
    expect(more).toEqual(['']);
    expect(invokes).toBe(0);
  });

  it.each([
    [
      ['status', '--endpoint', 'http://127.0.0.1:1'],
      'unknown option --endpoint (did you mean --endpoint-url?)',
    ],
    [['list', '--page_size', '5'], 'unknown option --page_size (did you mean --page-size?)'],
    [['show', AUTHORIZER_APPID, '--revael'], 'unknown option --revael (did you mean --reveal?)'],
    [['status', '-x'], 'unknown option -x'],
    [['status', '--json=yes'], '--json takes no value'],
    [['list', '--limit'], '--limit needs a value'],
    [['list', '--state', '--json'], '--state needs a value'],
  ])('names an unknown or misused option in words of its own: %j', async (args, problem) => {
    const { code, err } = await cli(...args);
    expect(code).toBe(2);
    expect(err).toBe(`wechat-token: ${problem}\nrun wechat-token --help for usage\n`);
    expect(invokes).toBe(0);
  });

  it('prints the root package’s version with --version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(await cli('--version')).toEqual({ code: 0, out: `${version}\n`, err: '' });
    expect(invokes).toBe(0);
  });

  it('exits 1 saying so when --function names get-token instead of the refresh function', async () => {
    for (const fn of ['get-token', 'call-wechat']) {
      const { code, out, err } = await cli('status', '--function', fn);
      expect({ code, out }).toEqual({ code: 1, out: '' });
      expect(err).toBe(
        `wechat-token: not_refresh_function: ${fn} is not the refresh function (it refused the job as get-token and call-wechat do): pass the stack's RefreshFunctionName output to --function, or use --stack <name>\n`
      );
    }
  });

  it('exits 2 when nothing says where the service is', async () => {
    const errors: string[] = [];
    const code = await run(
      ['status'],
      { out: () => {}, err: (t) => errors.push(t), errIsTty: false },
      {}
    );
    expect(code).toBe(2);
    expect(errors.join('')).toMatch(/say where the service is: --function/);
  });

  it('prints the usage with --help and exits 0', async () => {
    const { code, out } = await cli('--help');
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: npx wechat-token <command> \[options\]\n/);
  });

  it('exits 1 with invoke_failed for a function the endpoint does not have', async () => {
    const { code, err } = await cli('status', '--function', 'no-such-function');
    expect(code).toBe(1);
    expect(err).toMatch(
      /^wechat-token: invoke_failed: ResourceNotFoundException: Function not found/
    );
  });

  it('exits 1 with endpoint_unreachable when nothing listens there', async () => {
    const port = await freePort();
    const errors: string[] = [];
    const io = { out: () => {}, err: (t: string) => errors.push(t), errIsTty: false };
    const code = await run(['status', '--endpoint-url', `http://127.0.0.1:${port}`], io, {});
    expect(code).toBe(1);
    expect(errors.join('')).toMatch(/^wechat-token: endpoint_unreachable: .*ECONNREFUSED/);
  });
});
