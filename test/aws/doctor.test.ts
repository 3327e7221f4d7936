import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClientSet } from '../../daemon/aws/clients.js';
import { createAwsClientSet } from '../../daemon/aws/clients.js';
import { CachingCredentialsProvider } from '../../daemon/aws/credentials.js';
import { formatDoctorReport, runDoctor, type DoctorReport } from '../../daemon/aws/doctor.js';
import type { Profile } from '../../daemon/config/types.js';
import { LOOKED_UP_REMOTE_PORT } from '../../daemon/config/schema.js';
import { startAwsApiServer, type AwsApiServer } from './helpers/aws-api-server.js';
import { freePort, makeProfile, makeTestClients } from './helpers/fixtures.js';

const ALL_ENDPOINTS = ['ssm', 'ssmmessages', 'ec2messages'].map(
  (service) => `com.amazonaws.us-east-1.${service}`,
);

let server: AwsApiServer;
let clients: AwsClientSet;
let deniedClients: AwsClientSet;
let busyServer: Server;
let busyPort: number;

/** Resolves every name to a documentation address, so no test sends a DNS query. */
const fakeLookup = async (host: string) => {
  if (host.endsWith('.invalid')) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  }
  return { address: '10.0.9.9' };
};

beforeAll(async () => {
  server = await startAwsApiServer({
    credentials: [
      { accessKeyId: 'AKIADOCTOROK000001', arn: 'arn:aws:iam::123456789012:user/alice' },
      { accessKeyId: 'AKIADOCTORDENIED01', arn: 'arn:aws:iam::123456789012:user/mallory' },
    ],
    denyStartSession: ['AKIADOCTORDENIED01'],
    instances: [
      { instanceId: 'i-00000000000000a01', vpcId: 'vpc-endpoints', subnetId: 'subnet-1' },
      { instanceId: 'i-00000000000000a02', vpcId: 'vpc-bare', subnetId: 'subnet-2' },
      { instanceId: 'i-00000000000000a03', vpcId: 'vpc-nat', subnetId: 'subnet-3' },
      { instanceId: 'i-00000000000000a04', pingStatus: 'ConnectionLost', vpcId: 'vpc-bare' },
      { instanceId: 'i-00000000000000a06', vpcId: 'vpc-no-ec2messages', subnetId: 'subnet-4' },
      {
        instanceId: 'i-00000000000000a07',
        agentVersion: '2.3.1319.0',
        vpcId: 'vpc-no-ec2messages',
        subnetId: 'subnet-4',
      },
      {
        instanceId: 'i-00000000000000a05',
        agentVersion: '3.0.196.0',
        vpcId: 'vpc-bare',
        publicIp: '198.51.100.7',
      },
    ],
    vpcs: [
      { vpcId: 'vpc-endpoints', cidr: '10.1.0.0/16', endpoints: ALL_ENDPOINTS },
      { vpcId: 'vpc-bare', cidr: '10.2.0.0/16', endpoints: [ALL_ENDPOINTS[0]] },
      { vpcId: 'vpc-nat', cidr: '10.3.0.0/16', endpoints: [], natGateway: true },
      { vpcId: 'vpc-no-ec2messages', cidr: '10.4.0.0/16', endpoints: ALL_ENDPOINTS.slice(0, 2) },
    ],
    dbInstances: [
      {
        id: 'orders',
        engine: 'postgres',
        endpoint: { address: 'orders.example.internal', port: 5432 },
      },
      {
        id: 'ledger',
        engine: 'mysql',
        endpoint: { address: 'ledger.c1a2b3c4d5e6.us-east-1.rds.invalid', port: 3306 },
      },
    ],
  });
  clients = makeTestClients(server.endpoint, 'AKIADOCTOROK000001');
  deniedClients = makeTestClients(server.endpoint, 'AKIADOCTORDENIED01');
  busyServer = createServer();
  await new Promise<void>((resolve) => busyServer.listen(0, '127.0.0.1', resolve));
  busyPort = (busyServer.address() as AddressInfo).port;
});

afterAll(async () => {
  clients.destroy();
  deniedClients.destroy();
  await new Promise((resolve) => busyServer.close(resolve));
  await server.close();
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) {
    delete process.env[name];
  } else {
    process.env[name] = value;
  }
}

async function doctor(overrides: Partial<Profile>, with_ = clients): Promise<DoctorReport> {
  const profile = makeProfile({ name: 'orders-db', localPort: await freePort(), ...overrides });
  return runDoctor(profile, { clients: with_, lookup: fakeLookup });
}

function statusOf(report: DoctorReport, id: string) {
  const found = report.checks.find((item) => item.id === id);
  expect(found, `check ${id}`).toBeDefined();
  return found!;
}

describe('runDoctor', () => {
  it('passes every check for a healthy profile', async () => {
    const report = await doctor({ target: 'i-00000000000000a01', remoteHost: 'rds:orders' });
    expect(report.checks.map((item) => [item.id, item.status])).toEqual([
      ['region', 'pass'],
      ['credentials', 'pass'],
      ['target', 'pass'],
      ['agent-version', 'pass'],
      ['start-session', 'pass'],
      ['remote-host', 'pass'],
      ['network', 'pass'],
      ['local-port', 'pass'],
    ]);
    expect(report.ok).toBe(true);
    expect(statusOf(report, 'credentials').detail).toContain(
      'arn:aws:iam::123456789012:user/alice',
    );
    expect(statusOf(report, 'remote-host').detail).toBe('orders.example.internal is 10.0.9.9');
    const start = server.state.calls.find((call) => call.operation === 'AmazonSSM.StartSession');
    expect((start!.input as { DocumentName: string }).DocumentName).toBe(
      'AWS-StartPortForwardingSessionToRemoteHost',
    );
    const terminated = server.state.calls.filter(
      (call) => call.operation === 'AmazonSSM.TerminateSession',
    );
    expect(terminated.length).toBeGreaterThan(0);
  });

  it('reports missing VPC endpoints with the fix', async () => {
    const report = await doctor({ target: 'i-00000000000000a02' });
    const network = statusOf(report, 'network');
    expect(network.status).toBe('fail');
    expect(network.detail).toContain('com.amazonaws.us-east-1.ssmmessages');
    expect(network.detail).not.toContain('com.amazonaws.us-east-1.ssm,');
    expect(network.fix).toContain('com.amazonaws.us-east-1.ssmmessages');
    expect(network.fix).not.toContain('ec2messages');
    expect(network.fix).toContain('NAT gateway');
    expect(report.ok).toBe(false);
  });

  it('passes agent 3.x without ec2messages', async () => {
    const report = await doctor({ target: 'i-00000000000000a06' });
    const network = statusOf(report, 'network');
    expect(network.status).toBe('pass');
    expect(network.detail).toMatch(/which agent 3\.[\d.]+ needs; it does not need /);
    expect(network.detail).toContain('com.amazonaws.us-east-1.ec2messages');
    expect(network.fix).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it('warns agent 2.x without ec2messages', async () => {
    const report = await doctor({ target: 'i-00000000000000a07' });
    const network = statusOf(report, 'network');
    expect(network.status).toBe('warn');
    expect(network.detail).toContain('com.amazonaws.us-east-1.ec2messages');
    expect(network.detail).toContain('agent 2.3.1319.0 needs');
    expect(network.fix).toContain('SSM Agent 3.x');
    expect(network.fix).toContain('AWS-UpdateSSMAgent');
    expect(report.ok).toBe(true);
  });

  it('accepts a NAT route instead of endpoints', async () => {
    const report = await doctor({ target: 'i-00000000000000a03' });
    expect(statusOf(report, 'network').status).toBe('pass');
    expect(statusOf(report, 'network').detail).toContain('NAT gateway');
  });

  it('reports an offline agent and skips session checks', async () => {
    const report = await doctor({ target: 'i-00000000000000a04' });
    const target = statusOf(report, 'target');
    expect(target.status).toBe('fail');
    expect(target.detail).toContain('ERR_TARGET_NOT_CONNECTED');
    expect(target.fix).toContain('SSM agent');
    expect(statusOf(report, 'start-session').status).toBe('skip');
    expect(statusOf(report, 'network').status).toBe('skip');
  });

  it('explains access denied on StartSession', async () => {
    const report = await doctor({ target: 'i-00000000000000a01' }, deniedClients);
    const start = statusOf(report, 'start-session');
    expect(start.status).toBe('fail');
    expect(start.detail).toContain('ERR_ACCESS_DENIED');
    expect(start.fix).toContain('ssm:StartSession on i-00000000000000a01');
    expect(start.fix).toContain('bastionless policy');
  });

  it('reports a busy local port', async () => {
    const report = await doctor({ target: 'i-00000000000000a01', localPort: busyPort });
    const port = statusOf(report, 'local-port');
    expect(port.status).toBe('fail');
    // The test process listens on the port, so the lookup names it with this process's pid.
    expect(port.detail).toMatch(
      new RegExp(`^127\\.0\\.0\\.1:${busyPort} is in use by .+ \\(pid ${process.pid}\\)$`),
    );
    expect(port.fix).toContain('`bastionless edit orders-db --local-port N` (localPort)');
  });

  it('names the port owner the lookup finds', async () => {
    const profile = makeProfile({
      name: 'busy',
      target: 'i-00000000000000a01',
      localPort: busyPort,
    });
    const asked: Array<[number, string]> = [];
    const report = await runDoctor(profile, {
      clients,
      lookup: fakeLookup,
      isOwnTunnelRunning: async () => false,
      describePortOwner: async (port, alternative) => {
        asked.push([port, alternative]);
        return { owner: ' by python3 (pid 4242)', hint: `Stop python3, or ${alternative}.` };
      },
    });
    const port = statusOf(report, 'local-port');
    expect(port.status).toBe('fail');
    expect(port.detail).toBe(`127.0.0.1:${busyPort} is in use by python3 (pid 4242)`);
    expect(port.fix).toBe(
      'Stop python3, or choose another port with `bastionless edit busy --local-port N` (localPort).',
    );
    expect(asked).toHaveLength(1);
    expect(asked[0]![0]).toBe(busyPort);
  });

  it('accepts a port held by its tunnel', async () => {
    const profile = makeProfile({
      name: 'orders-db',
      target: 'i-00000000000000a01',
      localPort: busyPort,
    });
    const asked: string[] = [];
    const report = await runDoctor(profile, {
      clients,
      lookup: fakeLookup,
      isOwnTunnelRunning: async (candidate) => {
        asked.push(candidate.name);
        return true;
      },
    });
    const port = statusOf(report, 'local-port');
    expect(port.status).toBe('pass');
    expect(port.detail).toBe(`127.0.0.1:${busyPort} is held by this profile's tunnel`);
    expect(asked).toEqual(['orders-db']);
  });

  it('fails a busy port when the daemon errs', async () => {
    const profile = makeProfile({ target: 'i-00000000000000a01', localPort: busyPort });
    const report = await runDoctor(profile, {
      clients,
      lookup: fakeLookup,
      isOwnTunnelRunning: async () => {
        throw new Error('the daemon is not running');
      },
    });
    expect(statusOf(report, 'local-port').status).toBe('fail');
  });

  it('warns about an agent without multiplexing', async () => {
    const report = await doctor({ target: 'i-00000000000000a05' });
    const agent = statusOf(report, 'agent-version');
    expect(agent.status).toBe('warn');
    expect(agent.fix).toContain('AWS-UpdateSSMAgent');
    expect(statusOf(report, 'network').detail).toContain('public IP');
    expect(report.ok).toBe(true);
  });

  it('warns when the remote host does not resolve here', async () => {
    const report = await doctor({ target: 'i-00000000000000a01', remoteHost: 'db.corp.invalid' });
    const remote = statusOf(report, 'remote-host');
    expect(remote.status).toBe('warn');
    expect(remote.detail).toContain('ENOTFOUND');
  });

  it('explains a looked-up RDS name as informational', async () => {
    const report = await doctor({
      target: 'i-00000000000000a01',
      remoteHost: 'rds:ledger',
      remotePort: LOOKED_UP_REMOTE_PORT,
    });
    const remote = statusOf(report, 'remote-host');
    expect(remote.status).toBe('info');
    expect(remote.detail).toContain(
      'ledger.c1a2b3c4d5e6.us-east-1.rds.invalid is the address RDS returned for rds:ledger',
    );
    expect(remote.detail).toContain('resolves only inside the VPC');
    expect(remote.fix).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(formatDoctorReport(report)).toContain('[info] Remote host resolves: ledger.');
  });

  it('starts the probe session on the looked-up port', async () => {
    const before = server.state.calls.length;
    await doctor({
      target: 'i-00000000000000a01',
      remoteHost: 'rds:ledger',
      remotePort: LOOKED_UP_REMOTE_PORT,
    });
    const start = server.state.calls
      .slice(before)
      .find((call) => call.operation === 'AmazonSSM.StartSession');
    const parameters = (start!.input as { Parameters: Record<string, string[]> }).Parameters;
    expect(parameters.portNumber).toEqual(['3306']);
    expect(parameters.host).toEqual(['ledger.c1a2b3c4d5e6.us-east-1.rds.invalid']);
  });

  it('reports an unknown RDS name', async () => {
    const report = await doctor({ target: 'i-00000000000000a01', remoteHost: 'rds:missing' });
    const remote = statusOf(report, 'remote-host');
    expect(remote.status).toBe('fail');
    expect(remote.detail).toContain('ERR_REMOTE_HOST_NOT_FOUND');
  });

  it('stops at expired SSO credentials with the login command', async () => {
    const expired = createAwsClientSet({
      region: 'us-east-1',
      endpoints: { sts: server.endpoint },
      credentials: new CachingCredentialsProvider({
        region: 'us-east-1',
        awsProfile: 'sso-dev',
        source: async () => {
          throw new Error('The SSO session associated with this profile has expired.');
        },
      }),
    });
    try {
      const report = await doctor(
        { target: 'i-00000000000000a01', awsProfile: 'sso-dev' },
        expired,
      );
      const credentials = statusOf(report, 'credentials');
      expect(credentials.status).toBe('fail');
      expect(credentials.detail).toContain('ERR_NEEDS_LOGIN');
      expect(credentials.fix).toContain('aws sso login --profile sso-dev');
      expect(statusOf(report, 'target').status).toBe('skip');
    } finally {
      expired.destroy();
    }
  });

  it('rejects an invalid region', async () => {
    const report = await doctor({ region: 'mars-1' });
    expect(statusOf(report, 'region').status).toBe('fail');
    expect(statusOf(report, 'region').fix).toContain(
      '`bastionless edit orders-db --region us-east-1`',
    );
    expect(statusOf(report, 'credentials').status).toBe('skip');
  });

  it('names the files of a missing AWS profile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bastionless-doctor-aws-'));
    const saved = {
      config: process.env.AWS_CONFIG_FILE,
      credentials: process.env.AWS_SHARED_CREDENTIALS_FILE,
    };
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
    const missing = createAwsClientSet({
      region: 'us-east-1',
      awsProfile: 'dev',
      endpoints: { sts: server.endpoint, ssm: server.endpoint, ec2: server.endpoint },
    });
    try {
      const report = await doctor({ awsProfile: 'dev' }, missing);
      const credentials = statusOf(report, 'credentials');
      expect(credentials.status).toBe('fail');
      expect(credentials.detail).toBe(
        `ERR_AWS_PROFILE_NOT_FOUND: AWS profile "dev" not found in ${join(dir, 'config')} or ` +
          `${join(dir, 'credentials')}`,
      );
      expect(credentials.fix).toContain('`aws configure --profile dev`');
      expect(credentials.fix).toContain('`aws configure sso`');
      expect(formatDoctorReport(report)).toContain('fix: Create it with `aws configure');
    } finally {
      missing.destroy();
      restoreEnv('AWS_CONFIG_FILE', saved.config);
      restoreEnv('AWS_SHARED_CREDENTIALS_FILE', saved.credentials);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('formatDoctorReport', () => {
  it('prints fixes under failing checks', async () => {
    const report = await doctor({ target: 'i-00000000000000a02' });
    const text = formatDoctorReport(report);
    expect(text.split('\n')[0]).toBe('Profile orders-db');
    expect(text).toMatch(
      /\[FAIL\] Agent reaches Systems Manager: .*\n\s+fix: Create interface VPC endpoints/,
    );
    expect(text).toContain('[ok  ] Credentials valid');
  });
});
