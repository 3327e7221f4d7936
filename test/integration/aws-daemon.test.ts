// The daemon against the SSM emulator with real AWS config files: credential_process, expiring
// and rejected credentials, SSO expiry, MFA through the control API, tag targets, RDS names
// and the audit log. Every transfer is checked with SHA-256.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { MfaRequest } from '../../daemon/api/mfa.js';
import { runCli, cliEnv } from '../cli/helpers.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import type { Scenario } from '../emulator/scenario.js';
import { echoRoundTrip, startEchoServer, type EchoServer } from '../tunnel/helpers.js';
import {
  createTestHome,
  emulatorProfile,
  processKey,
  startSsoPortal,
  startTestDaemon,
  waitForTunnel,
  waitUntil,
  writeCredentialProcess,
  writeSsoSessionToken,
  type SsoPortal,
  type TestDaemon,
  type TestHome,
  STATIC_PROFILE,
} from './helpers.js';

const INSTANCE_ID = 'i-0123456789abcdef0';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

interface Setup {
  home: TestHome;
  emulator: Emulator;
  echo: EchoServer;
}

async function setup(scenario: Partial<Scenario>): Promise<Setup> {
  const home = await createTestHome();
  cleanups.push(() => home.cleanup());
  const emulator = await startEmulator({ pacing: false, scenario });
  cleanups.push(() => emulator.close());
  const echo = await startEchoServer();
  cleanups.push(() => echo.close());
  return { home, emulator, echo };
}

async function daemonWith(setupResult: Setup, ...profiles: Parameters<typeof startTestDaemon>[1]) {
  const daemon = await startTestDaemon(setupResult.home.dir, profiles);
  cleanups.push(() => daemon.stop());
  return daemon;
}

/** Sends 64 KiB through the tunnel and back and checks every byte. */
async function expectRoundTrip(daemon: TestDaemon, name = 'db'): Promise<void> {
  const port = await daemon.localPort(name);
  const { sent, received } = await echoRoundTrip('127.0.0.1', port);
  expect(received).toBe(sent);
}

function calls(emulator: Emulator, operation: string) {
  return emulator.calls.filter((call) => call.operation === operation);
}

/** Scenario credentials for the first runs of the credential_process script. */
function processCredentials(runs: number) {
  return Array.from({ length: runs }, (_, index) => ({ accessKeyId: processKey(index + 1) }));
}

const AGENT_VERSION = '3.3.987.0';

const instance = {
  instanceId: INSTANCE_ID,
  pingStatus: 'Online' as const,
  agentVersion: AGENT_VERSION,
  tags: {},
};

/**
 * Starts the emulator and a daemon whose profile `db` takes its keys from a credential_process
 * script issuing keys that live `lifetimeMs`, and waits until the tunnel is open.
 */
async function openProcessTunnel(lifetimeMs: number, keys: number) {
  const env = await setup({ credentials: processCredentials(keys), instances: [instance] });
  const script = await writeCredentialProcess(env.home.dir, lifetimeMs);
  await env.home.writeAwsConfig(`[profile tool]\ncredential_process = ${script.path}\n`);
  const daemon = await daemonWith(
    env,
    emulatorProfile(env.emulator, { awsProfile: 'tool', remotePort: env.echo.port }),
  );
  const open = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
  return { env, script, daemon, open };
}

describe('daemon with AWS credentials', () => {
  it('opens a credential_process profile and audits it', async () => {
    const { env, daemon, open } = await openProcessTunnel(3_600_000, 3);
    await expectRoundTrip(daemon);
    const starts = calls(env.emulator, 'AmazonSSM.StartSession');
    expect(starts).toHaveLength(1);
    expect(starts[0]!.accessKeyId).toBe(processKey(1));

    await daemon.api('POST', '/v1/tunnels/db/stop');
    const auditFile = join(daemon.stateDir, 'audit.jsonl');
    await waitUntil('audit entry', async () =>
      (await readFile(auditFile, 'utf8').catch(() => '')).includes(open.sessionIds[0]!),
    );
    const cli = await runCli(['audit', '--json'], {
      ...cliEnv(env.home.dir),
      BASTIONLESS_HOME: join(env.home.dir, 'bastionless'),
    });
    expect(cli.code).toBe(0);
    const entries = cli.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toHaveLength(1);
    const entry = entries[0]!;
    expect(entry.profile).toBe('db');
    expect(entry.target).toBe(INSTANCE_ID);
    expect(entry.sessionId).toBe(open.sessionIds[0]);
    expect(entry.remotePort).toBe(env.echo.port);
    expect(entry.reason).toMatch(/^client: /);
    expect(entry.bytesOut).toBe(64 * 1024);
    expect(entry.bytesIn).toBe(64 * 1024);
    expect(Date.parse(entry.end as string)).toBeGreaterThanOrEqual(
      Date.parse(entry.start as string),
    );
  });

  it('keeps a tunnel across an expiring role refresh', async () => {
    const { env, script, daemon, open } = await openProcessTunnel(3000, 20);
    await expectRoundTrip(daemon);

    // The refresh timer runs the process again at half the 3 s lifetime.
    await waitUntil('credential refresh', async () => (await script.runs()) >= 2, 10_000);
    env.emulator.state.scenario.credentials[0]!.expired = true;
    expect(env.emulator.closeWebsocket(open.sessionIds[0]!)).toBe(true);
    await waitUntil('session resumed', () =>
      calls(env.emulator, 'AmazonSSM.ResumeSession').some((call) => call.error === undefined),
    );
    const resumed = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    expect(resumed.sessionIds).toEqual(open.sessionIds);
    await expectRoundTrip(daemon);
    for (const call of calls(env.emulator, 'AmazonSSM.ResumeSession')) {
      expect(call.accessKeyId).not.toBe(processKey(1));
    }
  });

  it('refreshes credentials when ResumeSession rejects them', async () => {
    const { env, script, daemon, open } = await openProcessTunnel(3_600_000, 3);

    // The first key expires on the service side while the process would issue a new one.
    env.emulator.state.scenario.credentials[0]!.expired = true;
    expect(env.emulator.closeWebsocket(open.sessionIds[0]!)).toBe(true);
    await waitUntil('session resumed', () =>
      calls(env.emulator, 'AmazonSSM.ResumeSession').some((call) => call.error === undefined),
    );
    const resumes = calls(env.emulator, 'AmazonSSM.ResumeSession');
    // The emulator records no access key for a call its authentication rejected.
    expect(resumes[0]!.error).toBe('ExpiredTokenException');
    expect(resumes[1]!.accessKeyId).toBe(processKey(2));
    expect(resumes[1]!.error).toBeUndefined();
    expect(await script.runs()).toBe(2);

    const resumed = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    expect(resumed.sessionIds).toEqual(open.sessionIds);
    await expectRoundTrip(daemon);
  });
});

describe('daemon needing a login', () => {
  const startUrl = 'https://example-team.awsapps.com/start';

  async function writeSsoToken(home: string, expiresInMs: number, accessToken: string) {
    // A legacy SSO profile's token is cached under the SHA-1 of its start URL.
    await writeSsoSessionToken(home, startUrl, {
      startUrl,
      region: 'us-east-1',
      accessToken,
      expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
    });
  }

  it('shows needs-login on SSO expiry and recovers', async () => {
    const env = await setup({ instances: [instance] });
    const portal: SsoPortal = await startSsoPortal('ASIASSOROLE0000001');
    cleanups.push(() => portal.close());
    process.env.AWS_ENDPOINT_URL_SSO = portal.url;
    await env.home.writeAwsConfig(
      [
        '[profile sso-dev]',
        `sso_start_url = ${startUrl}`,
        'sso_region = us-east-1',
        'sso_account_id = 123456789012',
        'sso_role_name = Developer',
        '',
      ].join('\n'),
    );
    await writeSsoToken(env.home.dir, -60_000, 'expired-token');
    const daemon = await daemonWith(
      env,
      emulatorProfile(env.emulator, { awsProfile: 'sso-dev', remotePort: env.echo.port }),
    );

    const blocked = await waitForTunnel(daemon, 'db', (status) => status.state === 'needs-login');
    expect(blocked.lastError?.code).toBe('ERR_NEEDS_LOGIN');
    expect(blocked.lastError?.hint).toContain('aws sso login --profile sso-dev');
    expect(blocked.reason).toContain('aws sso login --profile sso-dev');
    expect(calls(env.emulator, 'AmazonSSM.StartSession')).toHaveLength(0);

    await writeSsoToken(env.home.dir, 3_600_000, 'fresh-token');
    await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    expect(portal.tokens).toContain('fresh-token');
    const starts = calls(env.emulator, 'AmazonSSM.StartSession');
    expect(starts.at(-1)!.accessKeyId).toBe('ASIASSOROLE0000001');
    await expectRoundTrip(daemon);
  });

  it('takes an MFA code through the API', async () => {
    const env = await setup({ instances: [instance] });
    await env.home.writeAwsConfig(
      [
        '[profile base]',
        'aws_access_key_id = AKIASTATIC00000001',
        'aws_secret_access_key = s3cret',
        '[profile admin]',
        'role_arn = arn:aws:iam::123456789012:role/Admin',
        'source_profile = base',
        'mfa_serial = arn:aws:iam::123456789012:mfa/alice',
        '',
      ].join('\n'),
    );
    const daemon = await daemonWith(
      env,
      emulatorProfile(env.emulator, { awsProfile: 'admin', remotePort: env.echo.port }),
    );

    const waiting = await waitForTunnel(daemon, 'db', (status) => status.state === 'needs-login');
    expect(waiting.reason).toContain('waiting for an MFA code');
    expect(waiting.lastError?.hint).toContain('bastionless mfa');

    const events: { type: string; request?: MfaRequest }[] = [];
    const socket = new WebSocket(`${daemon.daemon.url.replace('http', 'ws')}/v1/events`, {
      headers: { authorization: `Bearer ${daemon.daemon.token}` },
    });
    cleanups.push(async () => socket.close());
    socket.on('message', (data) => events.push(JSON.parse(String(data)) as (typeof events)[0]));
    await waitUntil('mfa-required event', () => events.some((e) => e.type === 'mfa-required'));
    const event = events.find((e) => e.type === 'mfa-required')!;
    expect(event.request?.mfaSerial).toBe('arn:aws:iam::123456789012:mfa/alice');

    const pending = await daemon.api<MfaRequest[]>('GET', '/v1/mfa');
    expect(pending.body).toHaveLength(1);
    const request = pending.body[0]!;
    expect(request.profile).toBe('db');
    expect(request.awsProfile).toBe('admin');
    expect(request.id).toBe(event.request?.id);
    expect(Date.parse(request.requestedAt)).not.toBeNaN();

    const invalid = await daemon.api<{ error: { code: string } }>('POST', `/v1/mfa/${request.id}`, {
      code: '49a817',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('ERR_INVALID_MFA_CODE');
    const unknown = await daemon.api<{ error: { code: string } }>('POST', '/v1/mfa/nope', {
      code: '493817',
    });
    expect(unknown.status).toBe(404);

    // `bastionless mfa CODE` posts the code to the oldest request.
    const cli = await runCli(['mfa', '493817'], {
      ...cliEnv(env.home.dir),
      BASTIONLESS_HOME: join(env.home.dir, 'bastionless'),
    });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain('MFA code sent for tunnel db');
    expect(cli.code).toBe(0);
    await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    await expectRoundTrip(daemon);
    const assume = calls(env.emulator, 'sts:AssumeRole');
    expect(assume).toHaveLength(1);
    expect((assume[0]!.input as Record<string, string>).TokenCode).toBe('493817');
    expect((await daemon.api<MfaRequest[]>('GET', '/v1/mfa')).body).toEqual([]);

    const log = await readFile(join(daemon.stateDir, 'daemon.log'), 'utf8');
    expect(log).toContain('waiting for an MFA code');
    expect(log).not.toContain('493817');
  });
});

describe('daemon resolving AWS names', () => {
  it('fails over a tag target that goes offline', async () => {
    const first = 'i-0aaaaaaaaaaaaaaa1';
    const second = 'i-0bbbbbbbbbbbbbbb2';
    const tags = { Role: 'db-proxy' };
    const env = await setup({
      instances: [
        { instanceId: first, pingStatus: 'Online', agentVersion: AGENT_VERSION, tags },
        { instanceId: second, pingStatus: 'Online', agentVersion: AGENT_VERSION, tags },
        {
          instanceId: INSTANCE_ID,
          pingStatus: 'Online',
          agentVersion: AGENT_VERSION,
          tags: { Role: 'other' },
        },
      ],
    });
    await env.home.writeAwsConfig(STATIC_PROFILE);
    const daemon = await daemonWith(
      env,
      emulatorProfile(env.emulator, {
        awsProfile: 'static',
        target: { tags },
        remotePort: env.echo.port,
      }),
    );
    const open = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    expect(open.target).toBe(first);
    await expectRoundTrip(daemon);
    const log = await readFile(join(daemon.stateDir, 'daemon.log'), 'utf8');
    expect(log).toContain(
      `matches 2 Online instances (${first}, ${second}); picked the lowest instance id, ${first}`,
    );

    const chosen = env.emulator.state.scenario.instances.find((i) => i.instanceId === first)!;
    chosen.pingStatus = 'ConnectionLost';
    const moved = await waitForTunnel(
      daemon,
      'db',
      (status) => status.state === 'open' && status.target === second,
    );
    expect(moved.sessionIds).not.toEqual(open.sessionIds);
    expect(env.emulator.sessions.map((session) => session.target)).toEqual([first, second]);
    await expectRoundTrip(daemon);
  });

  it('resolves an RDS instance name to its endpoint', async () => {
    const address = 'orders-db.abcdefghij.us-east-1.rds.amazonaws.com';
    const env = await setup({ instances: [instance] });
    env.emulator.state.scenario.dbInstances.push({
      id: 'orders-db',
      endpoint: { address, port: 5432 },
      engine: 'postgres',
    });
    env.emulator.state.scenario.dialOverrides = {
      [`${address}:5432`]: `127.0.0.1:${env.echo.port}`,
    };
    await env.home.writeAwsConfig(STATIC_PROFILE);
    const daemon = await daemonWith(
      env,
      emulatorProfile(env.emulator, {
        awsProfile: 'static',
        remoteHost: 'rds:orders-db',
        remotePort: 5432,
      }),
    );
    const open = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    expect(open.remoteHost).toBe('rds:orders-db');
    await expectRoundTrip(daemon);
    const describe = calls(env.emulator, 'rds:DescribeDBInstances');
    expect(describe).toHaveLength(1);
    expect(env.emulator.sessions[0]!.host).toBe(address);
    expect(Number(env.emulator.sessions[0]!.port)).toBe(5432);
  });

  it('takes the port from the RDS lookup', async () => {
    const address = 'ledger-db.abcdefghij.us-east-1.rds.amazonaws.com';
    const env = await setup({ instances: [instance] });
    env.emulator.state.scenario.dbInstances.push({
      id: 'ledger-db',
      endpoint: { address, port: 3306 },
      engine: 'mysql',
    });
    env.emulator.state.scenario.dialOverrides = {
      [`${address}:3306`]: `127.0.0.1:${env.echo.port}`,
    };
    await env.home.writeAwsConfig(STATIC_PROFILE);
    const daemon = await daemonWith(
      env,
      emulatorProfile(env.emulator, {
        awsProfile: 'static',
        remoteHost: 'rds:ledger-db',
        remotePort: 0,
      }),
    );
    const open = await waitForTunnel(daemon, 'db', (status) => status.state === 'open');
    expect(open.remotePort).toBe(3306);
    await expectRoundTrip(daemon);
    expect(Number(env.emulator.sessions[0]!.port)).toBe(3306);
  });
});
