// `bastionless doctor`: checks everything a tunnel needs, in the order a user would fix it,
// and reports for each failing check what to do.

import { lookup as dnsLookup } from 'node:dns/promises';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import {
  StartSessionCommand,
  TerminateSessionCommand,
  type StartSessionCommandInput,
} from '@aws-sdk/client-ssm';
import type { Profile } from '../config/types.js';
import { classifyError } from '../errors.js';
import { describePortOwner, type PortInUseText } from '../tunnel/listeners.js';
import { findPortOwner } from '../tunnel/port-owner.js';
import type { AwsClientSet } from './clients.js';
import { checkAgentPath, probeLocalPort } from './doctor-network.js';
import { parseRemoteHost, resolveRemoteHost } from './remote-host.js';
import {
  compareVersions,
  MUX_MIN_EXCLUSIVE_AGENT_VERSION,
  resolveTarget,
  type ManagedInstance,
} from './targets.js';

/** `info` passes too, but its detail explains a result that looks like a problem and is not. */
export type CheckStatus = 'pass' | 'info' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  /** Next step for the user, set for `warn` and `fail`. */
  fix?: string;
}

export interface DoctorReport {
  profile: string;
  /** True when no check failed; warnings do not count. */
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorDependencies {
  clients: AwsClientSet;
  /** Name resolution for the remote host; defaults to dns.promises.lookup. */
  lookup?: (host: string) => Promise<{ address: string }>;
  now?: () => number;
  /**
   * Resolves true when this profile's own tunnel is running in the daemon, so a busy local
   * port is its listener, or an UnresponsiveDaemon when that daemon runs but its control API
   * does not respond. Absent: a busy port always fails.
   */
  isOwnTunnelRunning?: (profile: Profile) => Promise<boolean | UnresponsiveDaemon>;
  /** Returns the pid listening on a local port, or undefined. Default: findPortOwner. */
  findPortOwnerPid?: (port: number) => Promise<number | undefined>;
  /**
   * Names the process that listens on a busy port, with the next step; defaults to the lookup
   * that ERR_PORT_IN_USE of a tunnel uses.
   */
  describePortOwner?: (port: number, alternative: string) => Promise<PortInUseText>;
}

/** The daemon of the doctor's config, running but with a control API that does not respond. */
export interface UnresponsiveDaemon {
  pid: number;
  /** Sentence that names the process condition, e.g. suspended by SIGSTOP. */
  problem: string;
  /** Command that resumes or ends the daemon. */
  nextStep: string;
}

// Finding the owner reads /proc or runs lsof. Past this time the port owner counts as unknown.
const OWNER_PID_TIMEOUT_MS = 1500;

/**
 * First agent version that needs no ec2messages endpoint: from 3.x on, the agent opens
 * sessions over ssmmessages and uses ec2messages only as a fallback for Run Command.
 * NOTE: 3.0 is the rule the check's fix text states; the exact first release has not been
 * confirmed against the agent's release notes.
 */
const EC2MESSAGES_OPTIONAL_AGENT_VERSION = '3.0.0.0';

const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

function check(
  id: string,
  title: string,
  status: CheckStatus,
  detail: string,
  fix?: string,
): DoctorCheck {
  return fix === undefined ? { id, title, status, detail } : { id, title, status, detail, fix };
}

function failure(id: string, title: string, error: unknown, profile: Profile): DoctorCheck {
  const classified = classifyError(error, {
    awsProfile: profile.awsProfile,
    profileName: profile.name,
  });
  // The shared hint states that the request is retried, which holds for tunnels but not for a check.
  const fix =
    classified.code === 'ERR_ENDPOINT_UNREACHABLE'
      ? 'Check the network connection and proxy, or point the profile at a reachable endpoint ' +
        `with \`bastionless edit ${profile.name} --endpoint-url URL\`.`
      : classified.hint;
  return check(id, title, 'fail', `${classified.code}: ${classified.message}`, fix);
}

function skipped(id: string, title: string, reason: string): DoctorCheck {
  return check(id, title, 'skip', reason);
}

function checkRegion(profile: Profile): DoctorCheck {
  if (REGION_PATTERN.test(profile.region)) {
    return check('region', 'Region set', 'pass', profile.region);
  }
  return check(
    'region',
    'Region set',
    'fail',
    `region ${JSON.stringify(profile.region)} is not an AWS region name`,
    `Set the region with \`bastionless edit ${profile.name} --region us-east-1\` (region).`,
  );
}

async function checkCredentials(profile: Profile, deps: DoctorDependencies): Promise<DoctorCheck> {
  const title = 'Credentials valid';
  try {
    const identity = await deps.clients.sts.send(new GetCallerIdentityCommand({}));
    const expiration = deps.clients.credentials.expiration;
    let expiry = 'long-term keys without expiration';
    if (expiration) {
      const minutes = Math.round((expiration.getTime() - (deps.now ?? Date.now)()) / 60_000);
      expiry = `expire at ${expiration.toISOString()} (in ${minutes} min)`;
    }
    return check('credentials', title, 'pass', `${identity.Arn ?? 'unknown identity'}; ${expiry}`);
  } catch (error) {
    return failure('credentials', title, error, profile);
  }
}

function checkAgentVersion(instance: ManagedInstance): DoctorCheck {
  const title = 'Agent supports multiplexing';
  if (instance.supportsMux) {
    return check('agent-version', title, 'pass', `agent ${instance.agentVersion}`);
  }
  return check(
    'agent-version',
    title,
    'warn',
    `agent ${instance.agentVersion} is not newer than ${MUX_MIN_EXCLUSIVE_AGENT_VERSION}, so each session carries one connection at a time`,
    `Update the SSM agent on ${instance.instanceId} (for example with the AWS-UpdateSSMAgent document).`,
  );
}

/** Host and port the agent dials: a looked-up endpoint, or null for the target itself. */
interface RemoteEndpoint {
  host: string;
  port: number;
}

function startSessionInput(
  profile: Profile,
  instanceId: string,
  remote: RemoteEndpoint | null,
): StartSessionCommandInput & { DocumentName: string } {
  const portNumber = [String(remote?.port ?? profile.remotePort)];
  if (remote === null) {
    return {
      Target: instanceId,
      DocumentName: 'AWS-StartPortForwardingSession',
      Parameters: { portNumber },
    };
  }
  return {
    Target: instanceId,
    DocumentName: 'AWS-StartPortForwardingSessionToRemoteHost',
    Parameters: { host: [remote.host], portNumber },
  };
}

/** Starts a session and terminates it at once, which proves ssm:StartSession is allowed. */
async function checkStartSession(
  profile: Profile,
  instanceId: string,
  remote: RemoteEndpoint | null,
  deps: DoctorDependencies,
): Promise<DoctorCheck> {
  const title = 'Session can start';
  const input = startSessionInput(profile, instanceId, remote);
  try {
    const output = await deps.clients.ssm.send(
      new StartSessionCommand({ ...input, Reason: 'bastionless doctor' }),
    );
    if (output.SessionId) {
      await deps.clients.ssm.send(new TerminateSessionCommand({ SessionId: output.SessionId }));
    }
    return check('start-session', title, 'pass', `${input.DocumentName} on ${instanceId}`);
  } catch (error) {
    const result = failure('start-session', title, error, profile);
    if (error instanceof Error && error.name === 'AccessDeniedException') {
      result.fix =
        `Your IAM identity may not call ssm:StartSession on ${instanceId} with ${input.DocumentName}. ` +
        'Run `bastionless policy` and attach the printed policy to your role or user.';
    }
    return result;
  }
}

async function checkRemoteHost(
  profile: Profile,
  deps: DoctorDependencies,
): Promise<{ check: DoctorCheck; remote: RemoteEndpoint | null }> {
  const title = 'Remote host resolves';
  if (!profile.remoteHost) {
    return {
      check: check(
        'remote-host',
        title,
        'pass',
        'no remoteHost: the agent connects to the target itself',
      ),
      remote: null,
    };
  }
  const spec = parseRemoteHost(profile.remoteHost);
  let remote: RemoteEndpoint;
  try {
    const resolved = await resolveRemoteHost(profile.remoteHost, deps.clients);
    remote = { host: resolved.host, port: resolved.port ?? profile.remotePort };
  } catch (error) {
    return { check: failure('remote-host', title, error, profile), remote: null };
  }
  const host = remote.host;
  const lookup = deps.lookup ?? ((name: string) => dnsLookup(name));
  try {
    const { address } = await lookup(host);
    return { check: check('remote-host', title, 'pass', `${host} is ${address}`), remote };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    if (spec.kind !== 'host') {
      // The endpoint names of private RDS and ElastiCache resources resolve only inside the
      // VPC. The agent resolves the name there, so a failure on this machine is expected.
      const detail =
        `${host} is the address ${spec.kind === 'elasticache' ? 'ElastiCache' : 'RDS'} returned for ` +
        `${profile.remoteHost}; it resolves only inside the VPC, where the agent resolves it (here: ${code})`;
      return { check: check('remote-host', title, 'info', detail), remote };
    }
    // The agent resolves the name inside the VPC, so a name in a private hosted zone still works.
    const detail = `${host} does not resolve on this machine (${code})`;
    const fix =
      'If the name lives in a private hosted zone this is expected; otherwise check its spelling ' +
      `and fix it with \`bastionless edit ${profile.name} --remote-host HOST\` (remoteHost).`;
    return { check: check('remote-host', title, 'warn', detail, fix), remote };
  }
}

/** Checks the VPC endpoints path, where ec2messages matters only to agents before 3.x. */
function checkEndpointsPath(
  vpcId: string | null,
  missingOptional: string[],
  instance: ManagedInstance,
): DoctorCheck {
  const title = 'Agent reaches Systems Manager';
  const vpc = `VPC ${vpcId ?? 'of the instance'}`;
  if (missingOptional.length === 0) {
    return check(
      'network',
      title,
      'pass',
      `${vpc} has interface endpoints for ssm, ssmmessages and ec2messages`,
    );
  }
  const missing = missingOptional.join(', ');
  const version = instance.agentVersion;
  if (version && compareVersions(version, EC2MESSAGES_OPTIONAL_AGENT_VERSION) >= 0) {
    return check(
      'network',
      title,
      'pass',
      `${vpc} has interface endpoints for ssm and ssmmessages, which agent ${version} needs; it does not need ${missing}`,
    );
  }
  return check(
    'network',
    title,
    'warn',
    `${vpc} has interface endpoints for ssm and ssmmessages but not for ${missing}, which agent ${version || '(unknown version)'} needs`,
    `SSM Agent 3.x and later needs only ssm and ssmmessages. Update the agent on ${instance.instanceId} (for example with the AWS-UpdateSSMAgent document), or create an interface endpoint for ${missing}.`,
  );
}

async function checkNetworkPath(
  profile: Profile,
  instance: ManagedInstance,
  deps: DoctorDependencies,
): Promise<DoctorCheck> {
  const title = 'Agent reaches Systems Manager';
  const instanceId = instance.instanceId;
  if (!instanceId.startsWith('i-')) {
    return skipped('network', title, `${instanceId} is not an EC2 instance`);
  }
  try {
    const report = await checkAgentPath(deps.clients.ec2, profile.region, instanceId);
    if (report.path === 'public-ip') {
      return check('network', title, 'pass', 'the instance has a public IP address');
    }
    if (report.path === 'endpoints') {
      return checkEndpointsPath(report.vpcId, report.missingOptionalEndpoints, instance);
    }
    if (report.path === 'nat') {
      return check(
        'network',
        title,
        'pass',
        `VPC ${report.vpcId} routes 0.0.0.0/0 to a NAT gateway`,
      );
    }
    return check(
      'network',
      title,
      'fail',
      `the instance has no public IP and VPC ${report.vpcId ?? 'unknown'} has neither a NAT route nor endpoints for ${report.missingEndpoints.join(', ')}`,
      `Create interface VPC endpoints for ${report.missingEndpoints.join(', ')} in VPC ${report.vpcId ?? 'of the instance'}, or route 0.0.0.0/0 of its subnet to a NAT gateway.`,
    );
  } catch (error) {
    return failure('network', title, error, profile);
  }
}

async function checkLocalPort(profile: Profile, deps: DoctorDependencies): Promise<DoctorCheck> {
  const title = 'Local port free';
  const address = `${profile.bindAddress}:${profile.localPort}`;
  const host = profile.bindAddress === 'localhost' ? '127.0.0.1' : profile.bindAddress;
  const code = await probeLocalPort(host, profile.localPort);
  if (code === null) {
    return check('local-port', title, 'pass', `${address} is free`);
  }
  const editPort = `\`bastionless edit ${profile.name} --local-port N\` (localPort)`;
  if (code === 'EADDRINUSE') {
    const own = await isOwnTunnelRunning(profile, deps);
    if (own === true) {
      return check('local-port', title, 'pass', `${address} is held by this profile's tunnel`);
    }
    if (own !== false && (await findOwnerPid(profile.localPort, deps)) === own.pid) {
      return check(
        'local-port',
        title,
        'fail',
        `${address} is held by this config's own daemon. ${capitalize(own.problem)}`,
        `${capitalize(own.nextStep)}.`,
      );
    }
    const describe = deps.describePortOwner ?? describePortOwner;
    const { owner, hint } = await describe(
      profile.localPort,
      `choose another port with ${editPort}`,
    );
    return check('local-port', title, 'fail', `${address} is in use${owner}`, hint);
  }
  return check(
    'local-port',
    title,
    'fail',
    `cannot listen on ${address}: ${code}`,
    `Choose a port above 1023 with ${editPort}, on an address of this machine (\`--bind\`).`,
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function findOwnerPid(port: number, deps: DoctorDependencies): Promise<number | undefined> {
  const find =
    deps.findPortOwnerPid ?? (async (busyPort: number) => (await findPortOwner(busyPort))?.pid);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), OWNER_PID_TIMEOUT_MS);
  });
  try {
    return await Promise.race([find(port).catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function isOwnTunnelRunning(
  profile: Profile,
  deps: DoctorDependencies,
): Promise<boolean | UnresponsiveDaemon> {
  try {
    return (await deps.isOwnTunnelRunning?.(profile)) ?? false;
  } catch {
    // A daemon that does not respond cannot vouch for the port, so the port counts as busy.
    return false;
  }
}

/** Runs every check for one profile. Checks that need AWS are skipped when credentials fail. */
export async function runDoctor(profile: Profile, deps: DoctorDependencies): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const region = checkRegion(profile);
  checks.push(region);
  const credentials =
    region.status === 'fail'
      ? skipped('credentials', 'Credentials valid', 'needs a valid region')
      : await checkCredentials(profile, deps);
  checks.push(credentials);

  let instance: ManagedInstance | null = null;
  if (credentials.status === 'pass') {
    try {
      instance = await resolveTarget(profile.target, deps.clients);
      checks.push(
        check('target', 'Target managed and Online', 'pass', `${instance.instanceId} is Online`),
      );
    } catch (error) {
      checks.push(failure('target', 'Target managed and Online', error, profile));
    }
  } else {
    checks.push(skipped('target', 'Target managed and Online', 'needs valid credentials'));
  }

  const remote =
    credentials.status === 'pass' ||
    !profile.remoteHost ||
    parseRemoteHost(profile.remoteHost).kind === 'host'
      ? await checkRemoteHost(profile, deps)
      : {
          check: skipped('remote-host', 'Remote host resolves', 'needs valid credentials'),
          remote: null,
        };

  if (instance) {
    checks.push(checkAgentVersion(instance));
    checks.push(await checkStartSession(profile, instance.instanceId, remote.remote, deps));
    checks.push(remote.check);
    checks.push(await checkNetworkPath(profile, instance, deps));
  } else {
    checks.push(skipped('agent-version', 'Agent supports multiplexing', 'needs an Online target'));
    checks.push(skipped('start-session', 'Session can start', 'needs an Online target'));
    checks.push(remote.check);
    checks.push(skipped('network', 'Agent reaches Systems Manager', 'needs an Online target'));
  }
  checks.push(await checkLocalPort(profile, deps));
  return { profile: profile.name, ok: checks.every((item) => item.status !== 'fail'), checks };
}

/** Formats a report as one line per check, with the fix indented below failing ones. */
export function formatDoctorReport(report: DoctorReport): string {
  const marks: Record<CheckStatus, string> = {
    pass: 'ok  ',
    info: 'info',
    warn: 'warn',
    fail: 'FAIL',
    skip: 'skip',
  };
  const lines = [`Profile ${report.profile}`];
  for (const item of report.checks) {
    lines.push(`  [${marks[item.status]}] ${item.title}: ${item.detail}`);
    if (item.fix && (item.status === 'fail' || item.status === 'warn')) {
      lines.push(`         fix: ${item.fix}`);
    }
  }
  return lines.join('\n');
}
