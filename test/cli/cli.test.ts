import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../daemon/config/types.js';
import {
  cliEnv,
  echoThrough,
  freePort,
  portIsFree,
  runCli,
  setupEmulatorAndEcho,
  spawnCli,
  waitFor,
} from './helpers.js';

const fixture = setupEmulatorAndEcho();
let home: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'bastionless-cli-'));
  env = cliEnv(home);
});

afterAll(async () => {
  await runCli(['stop'], env).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

async function statusJson(): Promise<TunnelStatus[]> {
  const result = await runCli(['status', '--json'], env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as TunnelStatus[];
}

describe('bastionless CLI without daemon', () => {
  it('reports a stopped daemon with exit 1', async () => {
    const result = await runCli(['status'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'bastionless: the daemon is not running; start it with `bastionless start`\n',
    );
  });

  it('rejects an unknown command with exit 2', async () => {
    const result = await runCli(['frobnicate'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
  });

  it('reports an invalid endpoint once', async () => {
    const result = await runCli(['targets', '--endpoint-url', 'not-a-url'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bastionless: invalid --endpoint-url not-a-url: must be an http:// or https:// URL such ' +
        'as http://127.0.0.1:4566; see `bastionless targets --help`\n',
    );
  });

  it('rejects an unknown option with exit 2', async () => {
    const result = await runCli(['status', '--colour'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bastionless status --help');
  });

  it('prints help per command', async () => {
    const result = await runCli(['add', '--help'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--local-port N');
  });

  it('rejects an invalid profile naming the field', async () => {
    const result = await runCli(
      [
        'add',
        'bad',
        '--target',
        'i-0123456789abcdef0',
        '--remote-port',
        '80',
        '--local-port',
        '18099',
        '--session-pool',
        '9',
      ],
      env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid --session-pool 9: must be a whole number 1-8');
    expect(existsSync(join(home, 'config.json'))).toBe(false);
  });
});

describe('bastionless add and edit', () => {
  const configFile = () => join(home, 'edit-test.json');
  const readProfile = () => JSON.parse(readFileSync(configFile(), 'utf8')).profiles[0];

  it('sets and clears boolean flags', async () => {
    const base = ['--config', configFile()];
    const added = await runCli(
      [
        ...base,
        'add',
        'web',
        '--target',
        'i-0123456789abcdef0',
        '--remote-port',
        '80',
        '--local-port',
        '18081',
        '--auto-start',
        '--group',
        'a',
        '--group',
        'b',
      ],
      env,
    );
    expect(added.stderr).toBe('');
    expect(readProfile()).toMatchObject({
      autoStart: true,
      groups: ['a', 'b'],
      region: 'us-east-1',
    });

    const edited = await runCli(
      ['edit', 'web', '--no-auto-start', '--mode', 'always-on', ...base],
      env,
    );
    expect(edited.stderr).toBe('');
    expect(readProfile()).toMatchObject({ autoStart: false, mode: 'always-on', localPort: 18081 });
  });

  it('rejects contradicting flags with exit 2', async () => {
    const result = await runCli(
      ['edit', 'web', '--auto-start', '--no-auto-start', '--config', configFile()],
      env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--auto-start and --no-auto-start contradict each other');
  });

  it('rejects an invalid edit naming the flag', async () => {
    const result = await runCli(
      ['edit', 'web', '--mode', 'sometimes', '--config', configFile()],
      env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid --mode sometimes: must be on-demand or always-on');
    expect(readProfile().mode).toBe('always-on');
  });

  it('warns about an AWS profile in no file', async () => {
    const awsDir = join(home, 'aws-files');
    mkdirSync(awsDir, { recursive: true });
    const awsEnv = {
      ...env,
      AWS_CONFIG_FILE: join(awsDir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(awsDir, 'credentials'),
    };
    const result = await runCli(
      ['edit', 'web', '--aws-profile', 'dev', '--config', configFile()],
      awsEnv,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('updated profile "web"\n');
    expect(result.stderr).toBe(
      `warning: AWS profile "dev" is not in ${awsEnv.AWS_CONFIG_FILE} or ` +
        `${awsEnv.AWS_SHARED_CREDENTIALS_FILE}; create it with \`aws configure --profile dev\` ` +
        'or `aws configure sso`, or choose another with ' +
        '`bastionless edit web --aws-profile PROFILE`\n',
    );
    expect(readProfile().awsProfile).toBe('dev');
  });

  it('accepts an AWS profile from the config file', async () => {
    const awsDir = join(home, 'aws-files-dev');
    mkdirSync(awsDir, { recursive: true });
    appendFileSync(join(awsDir, 'config'), '[profile dev]\nregion = us-east-1\n');
    const result = await runCli(['edit', 'web', '--aws-profile', 'dev', '--config', configFile()], {
      ...env,
      AWS_CONFIG_FILE: join(awsDir, 'config'),
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});

describe('bastionless usage errors', () => {
  const configFile = () => join(home, 'usage-test.json');

  it('lists every missing add flag once', async () => {
    const result = await runCli(['add', 'x', '--config', configFile()], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bastionless: missing --target, --remote-port and --local-port; see `bastionless add --help`\n',
    );
  });

  const unknown: Array<[string[], string]> = [
    [['status', '--bogus'], 'unknown option --bogus; see `bastionless status --help`'],
    [['add', 'x', '--bogus'], 'unknown option --bogus; see `bastionless add --help`'],
    [['dashboard', '--json'], 'unknown option --json; see `bastionless dashboard --help`'],
    [
      ['logs', '-n', '-5'],
      'invalid --lines -5: must be a whole number, 0 or more; see `bastionless logs --help`',
    ],
    [
      ['add', 'x', '--target', 'i-0123456789abcdef0', '--remote-port', '80', '--local-port', '-1'],
      'invalid --local-port -1: must be a port 1-65535; see `bastionless add --help`',
    ],
    [
      [
        'add',
        'x',
        '--target',
        'i-0123456789abcdef0',
        '--remote-port',
        '80',
        '--local-port',
        '18098',
        '--endpoint-url',
        'not-a-url',
      ],
      'invalid --endpoint-url not-a-url: must be an http:// or https:// URL such as ' +
        'http://127.0.0.1:4566; see `bastionless add --help`',
    ],
    [
      ['targets', '--region', 'us-east-1', '--endpoint-url', 'not-a-url'],
      'invalid --endpoint-url not-a-url: must be an http:// or https:// URL such as ' +
        'http://127.0.0.1:4566; see `bastionless targets --help`',
    ],
    [
      ['connect', '--target', 'i-0123456789abcdef0', '--remote-port', '80', '--local-port', '-1'],
      'invalid --local-port -1: must be a port 0-65535; see `bastionless connect --help`',
    ],
    [
      ['add', 'x', '--target', 'web-1', '--remote-port', '80', '--local-port', '18098'],
      'invalid --target web-1: must be a managed node id such as i-0123456789abcdef0 or ' +
        'mi-0123456789abcdef0; see `bastionless add --help`',
    ],
    [
      ['edit', 'x', '--region', 'useast1'],
      'invalid --region useast1: must be an AWS region such as eu-west-1; see `bastionless edit --help`',
    ],
    [
      ['status', '--jsn'],
      'unknown option --jsn; did you mean --json? See `bastionless status --help`',
    ],
    [
      ['stauts'],
      'unknown command "stauts"; did you mean `bastionless status`? Run `bastionless --help` for the list',
    ],
  ];
  for (const [args, message] of unknown) {
    it(`rejects ${args.join(' ')}`, async () => {
      const result = await runCli(args, env);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`bastionless: ${message}\n`);
    });
  }

  it('sets endpoints and tag targets', async () => {
    const added = await runCli(
      [
        'add',
        'tagged',
        '--target-tag',
        'Name=bastion',
        '--target-tag',
        'env=dev',
        '--host',
        'db.internal',
        '--remote-port',
        '5432',
        '--local-port',
        '18091',
        '--endpoint-url',
        'http://127.0.0.1:4566',
        '--config',
        configFile(),
      ],
      env,
    );
    expect(added.stderr).toBe('');
    const profile = JSON.parse(readFileSync(configFile(), 'utf8')).profiles[0];
    expect(profile.target).toEqual({ tags: { Name: 'bastion', env: 'dev' } });
    expect(profile.remoteHost).toBe('db.internal');
    expect(profile.endpoints).toEqual({
      ssm: 'http://127.0.0.1:4566',
      sts: 'http://127.0.0.1:4566',
      ec2: 'http://127.0.0.1:4566',
      rds: 'http://127.0.0.1:4566',
      elasticache: 'http://127.0.0.1:4566',
    });

    const edited = await runCli(
      ['edit', 'tagged', '--ssm-endpoint', 'https://vpce.example', '--config', configFile()],
      env,
    );
    expect(edited.code).toBe(0);
    const after = JSON.parse(readFileSync(configFile(), 'utf8')).profiles[0];
    expect(after.endpoints.ssm).toBe('https://vpce.example');
    expect(after.endpoints.sts).toBe('http://127.0.0.1:4566');
  });

  it('leaves the port of an RDS host to the lookup', async () => {
    const added = await runCli(
      [
        'add',
        'orders',
        '--target',
        'i-0123456789abcdef0',
        '--remote-host',
        'rds:orders',
        '--local-port',
        '18092',
        '--region',
        'us-east-1',
        '--config',
        configFile(),
      ],
      env,
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const { profiles } = JSON.parse(readFileSync(configFile(), 'utf8')) as {
      profiles: Array<{ name: string; remoteHost: string; remotePort: number }>;
    };
    const profile = profiles.find((candidate) => candidate.name === 'orders')!;
    expect(profile.remoteHost).toBe('rds:orders');
    expect(profile.remotePort).toBe(0);

    const plain = await runCli(
      ['add', 'web', '--target', 'i-0123456789abcdef0', '--host', 'web.internal'],
      { ...env, BASTIONLESS_CONFIG: configFile() },
    );
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('missing --remote-port and --local-port');
  });

  it('rejects an edit without fields', async () => {
    const result = await runCli(['edit', 'tagged', '--config', configFile()], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nothing to change for profile "tagged"');
  });
});

describe('bastionless logs', () => {
  const line = (msg: string, extra: Record<string, unknown> = {}) =>
    `${JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5), pid: 1, msg, ...extra })}\n`;

  it('formats the last lines', async () => {
    mkdirSync(join(home, 'state'), { recursive: true });
    appendFileSync(
      join(home, 'state', 'daemon.log'),
      line('first') + line('second', { tunnel: 'db' }),
    );
    const result = await runCli(['logs', '-n', '1'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('2026-01-02T03:04:05.000Z INFO  second tunnel=db\n');
  });

  it('follows appended lines', async () => {
    mkdirSync(join(home, 'state'), { recursive: true });
    const child = spawnCli(['logs', '-f', '-n', '0'], env);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      // With -n 0 the child skips whatever the file contains once it has started, which can take
      // seconds on a loaded machine, so a line is appended at every poll until one is shown.
      await waitFor(
        'an appended line',
        async () => {
          appendFileSync(join(home, 'state', 'daemon.log'), line('appended later'));
          return output.includes('appended later') ? true : undefined;
        },
        30_000,
      );
      expect(output).not.toContain('second');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('bastionless CLI with daemon', () => {
  it('runs a tunnel from add to rm', { timeout: 120_000 }, async () => {
    const started = await runCli(['start'], env);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const again = await runCli(['start'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already running');
    const tokenMode = statSync(join(home, 'state', 'token')).mode & 0o777;
    expect(tokenMode).toBe(0o600);

    const localPort = await freePort();
    const added = await runCli(
      [
        'add',
        'echo',
        '--target',
        'i-0123456789abcdef0',
        '--remote-host',
        '127.0.0.1',
        '--remote-port',
        String(fixture.echoPort),
        '--local-port',
        String(localPort),
        '--endpoint-url',
        fixture.emulator.url,
        '--group',
        'demo',
      ],
      env,
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);

    const listed = await waitFor('the daemon to pick up the new profile', async () => {
      const tunnels = await statusJson();
      return tunnels.find((tunnel) => tunnel.name === 'echo');
    });
    expect(listed.state).toBe('stopped');
    expect(listed.localAddress).toBe(`127.0.0.1:${localPort}`);
    for (const field of ['activeConnections', 'bytesIn', 'bytesOut', 'lastError'] as const) {
      expect(listed).toHaveProperty(field);
    }

    const up = await runCli(['up', 'demo'], env);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('echo:');

    const { sent, received } = await echoThrough(localPort, 256 * 1024);
    expect(received).toBe(sent);

    const afterTraffic = await waitFor('byte counters to update', async () => {
      const tunnel = (await statusJson()).find((candidate) => candidate.name === 'echo');
      return tunnel && tunnel.bytesOut >= 256 * 1024 ? tunnel : undefined;
    });
    expect(afterTraffic.bytesIn).toBeGreaterThanOrEqual(256 * 1024);

    const table = await runCli(['status'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+STATE\s+LOCAL/);

    const down = await runCli(['down', 'echo'], env);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('echo: stopped');
    expect(await portIsFree(localPort)).toBe(true);

    const unknown = await runCli(['up', 'nothing'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no tunnel or group is named "nothing"');

    const dashboard = await runCli(['dashboard'], env);
    const token = readFileSync(join(home, 'state', 'token'), 'utf8').trim();
    expect(dashboard.stdout.trim()).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:\\d+/#token=${token}$`),
    );

    const edited = await runCli(['edit', 'echo', '--session-pool', '2'], env);
    expect(edited.code).toBe(0);
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
    expect(config.profiles[0].sessionPool).toBe(2);

    const removed = await runCli(['rm', 'echo'], env);
    expect(removed.code).toBe(0);
    await waitFor('the daemon to drop the removed profile', async () =>
      (await statusJson()).length === 0 ? true : undefined,
    );

    const logs = await runCli(['logs', '-n', '5'], env);
    expect(logs.code).toBe(0);
    expect(logs.stdout.trim().split('\n')).toHaveLength(5);

    const apiFile = JSON.parse(readFileSync(join(home, 'state', 'api.json'), 'utf8')) as {
      port: number;
    };
    const stopped = await runCli(['stop'], env);
    expect(stopped.code).toBe(0);
    expect(existsSync(join(home, 'state', 'daemon.pid'))).toBe(false);
    expect(await portIsFree(apiFile.port)).toBe(true);

    const after = await runCli(['status'], env);
    expect(after.code).toBe(1);
    const stopAgain = await runCli(['stop'], env);
    expect(stopAgain.code).toBe(0);
    expect(stopAgain.stdout).toBe('the daemon is not running\n');
  });
});

describe('bastionless with an offline target', () => {
  const offlineTarget = 'i-00000000000000bad';

  function expectOneNotConnected(text: string): void {
    expect(text.split('not connected').length - 1).toBe(1);
    expect(text).toContain(`Target ${offlineTarget} is not connected to Systems Manager`);
  }

  it('connect states the offline target once', async () => {
    const result = await runCli(
      [
        'connect',
        '--target',
        offlineTarget,
        '--remote-port',
        '80',
        '--local-port',
        '0',
        '--endpoint-url',
        fixture.emulator.url,
      ],
      env,
    );
    expect(result.code).toBe(1);
    const [error, hint] = result.stderr.trim().split('\n');
    expect(error).toBe(
      `bastionless connect: ERR_TARGET_NOT_CONNECTED: Target ${offlineTarget} is not connected to Systems Manager`,
    );
    expectOneNotConnected(result.stderr);
    expect(hint).toContain('SSM agent');
    expect(hint).toContain(`${offlineTarget} is a managed node`);
  });

  it('daemon lastError states it once', { timeout: 60_000 }, async () => {
    const started = await runCli(['start'], env);
    expect(started.code).toBe(0);
    try {
      const added = await runCli(
        [
          'add',
          'offline',
          '--target',
          offlineTarget,
          '--remote-port',
          '80',
          '--local-port',
          String(await freePort()),
          '--endpoint-url',
          fixture.emulator.url,
          '--mode',
          'always-on',
        ],
        env,
      );
      expect(added.stderr).toBe('');
      await waitFor('the daemon to pick up the offline profile', async () =>
        (await statusJson()).some((tunnel) => tunnel.name === 'offline') ? true : undefined,
      );
      const up = await runCli(['up', 'offline'], env);
      expect(up.code).toBe(0);
      const status = await waitFor('the offline tunnel to report its error', async () => {
        const tunnel = (await statusJson()).find((candidate) => candidate.name === 'offline');
        return tunnel?.lastError ? tunnel : undefined;
      });
      expect(status.lastError?.code).toBe('ERR_TARGET_NOT_CONNECTED');
      expectOneNotConnected(status.lastError?.message ?? '');
      expect(status.lastError?.hint).toContain('SSM agent');

      const table = await runCli(['status'], env);
      expectOneNotConnected(table.stdout);
    } finally {
      await runCli(['rm', 'offline'], env);
      await runCli(['stop'], env);
    }
  });
});
