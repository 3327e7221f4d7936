import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import { startAwsApiServer, type AwsApiServer } from './helpers/aws-api-server.js';
import { freePort, makeProfile } from './helpers/fixtures.js';

const run = promisify(execFile);
const MAIN = join(import.meta.dirname, '..', '..', 'daemon', 'cli', 'main.ts');

let server: AwsApiServer;
let home: string;

beforeAll(async () => {
  server = await startAwsApiServer({
    instances: [
      {
        instanceId: 'i-00000000000000e01',
        vpcId: 'vpc-bare',
        subnetId: 'subnet-1',
        tags: { Name: 'web-proxy' },
      },
      {
        instanceId: 'i-00000000000000e02',
        agentVersion: '3.0.196.0',
        pingStatus: 'ConnectionLost',
      },
    ],
    vpcs: [{ vpcId: 'vpc-bare', cidr: '10.2.0.0/16', endpoints: [] }],
  });
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'bastionless-cli-'));
  await writeFile(join(home, 'aws-config'), '');
  return () => rm(home, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process with keys in the environment and no shared AWS config. */
async function cli(...args: string[]): Promise<CliResult> {
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    BASTIONLESS_HOME: join(home, 'bastionless'),
    AWS_CONFIG_FILE: join(home, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'aws-config'),
    AWS_ACCESS_KEY_ID: 'AKIACLITEST0000001',
    AWS_SECRET_ACCESS_KEY: 'cli-secret',
    AWS_REGION: 'us-east-1',
  };
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env,
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function writeProfiles(profiles: Profile[]): Promise<void> {
  await mkdir(join(home, 'bastionless'), { recursive: true });
  await writeFile(
    join(home, 'bastionless', 'config.json'),
    JSON.stringify({ version: 2, profiles }),
  );
}

async function readProfiles(): Promise<Profile[]> {
  const text = await readFile(join(home, 'bastionless', 'config.json'), 'utf8');
  return (JSON.parse(text) as { profiles: Profile[] }).profiles;
}

function emulated(profile: Partial<Profile>): Profile {
  const endpoint = server.endpoint;
  return makeProfile({
    endpoints: {
      ssm: endpoint,
      ec2: endpoint,
      sts: endpoint,
      rds: endpoint,
      elasticache: endpoint,
    },
    ...profile,
  });
}

describe('bastionless CLI AWS commands', () => {
  it('prints a policy with a date window', async () => {
    await writeProfiles([emulated({ name: 'web', target: 'i-00000000000000e01' })]);
    const result = await cli(
      'policy',
      '--not-after',
      '2026-12-31T00:00:00Z',
      '--account',
      '123456789012',
    );
    expect(result.stderr).not.toContain('bastionless:');
    expect(result.code).toBe(0);
    const policy = JSON.parse(result.stdout) as {
      Version: string;
      Statement: { Condition?: unknown }[];
    };
    expect(policy.Version).toBe('2012-10-17');
    expect(policy.Statement[0]!.Condition).toEqual({
      DateLessThan: { 'aws:CurrentTime': '2026-12-31T00:00:00.000Z' },
    });
  });

  it('rejects an invalid policy window', async () => {
    await writeProfiles([emulated({ name: 'web' })]);
    const result = await cli('policy', '--not-before', 'soon');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid time "soon"');
  });

  it('lists targets as JSON', async () => {
    const result = await cli('targets', '--endpoint-url', server.endpoint, '--json');
    expect(result.code).toBe(0);
    const targets = JSON.parse(result.stdout) as {
      instanceId: string;
      name: string | null;
      supportsMux: boolean;
    }[];
    expect(targets.map((target) => [target.instanceId, target.name, target.supportsMux])).toEqual([
      ['i-00000000000000e01', 'web-proxy', true],
      ['i-00000000000000e02', null, false],
    ]);
  });

  it('lists targets with a NAME column', async () => {
    const result = await cli('targets', '--endpoint-url', server.endpoint);
    expect(result.code).toBe(0);
    const [header, first, second] = result.stdout.trimEnd().split('\n');
    expect(header!.split(/\s+/)).toEqual([
      'INSTANCE',
      'NAME',
      'PING',
      'AGENT',
      'MUX',
      'PLATFORM',
      'IP',
    ]);
    expect(first!.split(/\s+/).slice(0, 3)).toEqual(['i-00000000000000e01', 'web-proxy', 'Online']);
    expect(second!.split(/\s+/).slice(0, 2)).toEqual(['i-00000000000000e02', 'ConnectionLost']);
    expect(result.stderr).toBe('');
  });

  it('exits 1 from doctor with the failing check', async () => {
    await writeProfiles([
      emulated({ name: 'web', target: 'i-00000000000000e01', localPort: await freePort() }),
    ]);
    const result = await cli('doctor', 'web');
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('bastionless:');
    expect(result.stdout).toContain('Profile web');
    expect(result.stdout).toMatch(/\[FAIL\] Agent reaches Systems Manager/);
    expect(result.stdout).toContain('fix: Create interface VPC endpoints');
  });

  it('prints the audit log as a table', async () => {
    const state = join(home, 'bastionless', 'state');
    await mkdir(state, { recursive: true });
    const entry = {
      profile: 'web',
      target: 'i-00000000000000e01',
      remoteHost: null,
      remotePort: 80,
      sessionId: 'alice-0a1b2c3d',
      start: '2026-12-04T10:00:00.000Z',
      end: '2026-12-04T10:05:00.000Z',
      reason: 'closed by user',
      bytesIn: 2048,
      bytesOut: 10,
    };
    await writeFile(join(state, 'audit.jsonl'), `${JSON.stringify(entry)}\n`);
    const table = await cli('audit');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('alice-0a1b2c3d');
    expect(table.stdout).toContain('2.0 KiB');
    const json = await cli('audit', '--json');
    expect(JSON.parse(json.stdout)).toEqual(entry);
  });

  it('pushes and pulls profiles keeping a local edit', async () => {
    server.state.scenario.parameters = [];
    const web = emulated({ name: 'web', target: 'i-00000000000000e01', localPort: 18080 });
    await writeProfiles([web]);
    const pushed = await cli(
      'profiles',
      'push',
      '--to-ssm',
      '/team/web',
      '--endpoint-url',
      server.endpoint,
    );
    expect(pushed.stderr).not.toContain('bastionless:');
    expect(pushed.stdout.trim()).toBe('wrote /team/web/web');

    // A teammate changes the remote port in SSM; this user changes the local port.
    const parameter = server.state.scenario.parameters[0]!;
    parameter.value = JSON.stringify({ ...web, remotePort: 8443 });
    await writeProfiles([{ ...web, localPort: 19090 }]);

    const pulled = await cli(
      'profiles',
      'pull',
      '--from-ssm',
      '/team/web',
      '--endpoint-url',
      server.endpoint,
    );
    expect(pulled.stderr).not.toContain('bastionless:');
    expect(pulled.stdout).toContain('0 added, 1 updated, 0 removed');
    const [merged] = await readProfiles();
    expect(merged!.localPort).toBe(19090);
    expect(merged!.remotePort).toBe(8443);
  });

  it('rejects a pull from an empty path', async () => {
    server.state.scenario.parameters = [];
    const web = emulated({ name: 'web', target: 'i-00000000000000e01', localPort: 18080 });
    await writeProfiles([web]);
    const pulled = await cli(
      'profiles',
      'pull',
      '--from-ssm',
      '/team/tunnelz',
      '--endpoint-url',
      server.endpoint,
    );
    expect(pulled.code).toBe(1);
    expect(pulled.stdout).not.toContain('pulled');
    expect(pulled.stderr).toContain('no shared profiles found under /team/tunnelz;');
    expect(pulled.stderr).toContain('`bastionless profiles push --to-ssm /team/tunnelz` first');
    expect(await readProfiles()).toEqual([web]);
  });

  it('lists every problem of an invalid file in pull and push', async () => {
    const web = emulated({ name: 'web', target: 'i-00000000000000e01', localPort: 18080 });
    await writeProfiles([web, { ...web, localPort: 18081 }, { ...web, name: 'api' }]);
    const before = await readFile(join(home, 'bastionless', 'config.json'), 'utf8');
    for (const [verb, flag] of [
      ['pull', '--from-ssm'],
      ['push', '--to-ssm'],
    ] as const) {
      const result = await cli('profiles', verb, flag, '/team/tunnels');
      expect(result.code).toBe(1);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines.length).toBeGreaterThan(1);
      expect(lines[0]).toContain('is invalid');
      expect(lines[0]!.includes('left unchanged')).toBe(verb === 'pull');
      expect(lines[0]).not.toMatch(/\(and \d+ more\)/);
    }
    expect(await readFile(join(home, 'bastionless', 'config.json'), 'utf8')).toBe(before);
  });
});
