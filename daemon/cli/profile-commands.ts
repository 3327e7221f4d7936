// `add`, `edit` and `rm`: change profiles in the config file. A running daemon watches the
// file and applies the change, so these commands work whether or not it runs.

import { ConfigError } from '../config/errors.js';
import { ConfigStore } from '../config/store.js';
import { MAX_SESSION_POOL } from '../config/schema.js';
import { formatHostPort } from '../tunnel/listeners.js';
import { awsProfileDefined, awsProfileFiles } from '../aws/profile-files.js';
import { parseRemoteHost } from '../aws/remote-host.js';
import {
  integerOption,
  invalidOption,
  parseCommandArgs,
  PORT_RANGE,
  requireOptions,
  requirePositional,
  requireRegion,
  stringOption,
  urlOption,
  type IntegerRange,
  type OptionSpec,
  type ParsedArgs,
  type RequiredOption,
} from './args.js';
import { probeDaemon } from '../instance-lock.js';
import { pathsFor, print, type Command } from './command.js';
import { CliError, configFileError, EXIT_USAGE } from './errors.js';
import {
  describeUnresponsiveDaemon,
  processCondition,
  type ProcessCondition,
} from './unresponsive.js';

const ENDPOINT_SERVICES = ['ssm', 'sts', 'ec2', 'rds', 'elasticache'] as const;

const PROFILE_OPTIONS: OptionSpec = {
  target: { type: 'string' },
  'target-tag': { type: 'string', multiple: true },
  'remote-host': { type: 'string' },
  host: { type: 'string' },
  'remote-port': { type: 'string' },
  'local-port': { type: 'string' },
  region: { type: 'string' },
  'aws-profile': { type: 'string' },
  'endpoint-url': { type: 'string' },
  'ssm-endpoint': { type: 'string' },
  group: { type: 'string', multiple: true },
  mode: { type: 'string' },
  bind: { type: 'string' },
  'session-pool': { type: 'string' },
  'auto-start': { type: 'boolean' },
  'no-auto-start': { type: 'boolean' },
  'keep-alive': { type: 'boolean' },
  'no-keep-alive': { type: 'boolean' },
  'allow-non-loopback': { type: 'boolean' },
};

const PROFILE_OPTIONS_HELP = `  --target ID            instance id of the managed node (i-… or mi-…)
  --target-tag KEY=VALUE pick an Online managed instance with this tag instead of
                         --target; among several, the lowest instance id, kept while it
                         stays Online; repeat for several tags, e.g. --target-tag Name=bastion
  --remote-host HOST     host the agent connects to (default: the target itself); a DNS
                         name, an IP address, rds:ID, rds-cluster:ID or elasticache:ID
                         (--host is an alias)
  --remote-port N        port on the remote host; optional for rds:, rds-cluster: and
                         elasticache: hosts, whose lookup returns the port
  --local-port N         port on this machine
  --region R             AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or region
                         in the AWS profile's section of ~/.aws/config)
  --aws-profile NAME     named profile from ~/.aws/config
  --endpoint-url URL     endpoint for every AWS service (ssm, sts, ec2, rds, elasticache),
                         e.g. the local emulator or a proxy
  --ssm-endpoint URL     endpoint for SSM only, e.g. a VPC endpoint; wins over --endpoint-url
  --group G              group name; repeat for several groups
  --mode M               on-demand (session on first connection) or always-on
  --bind ADDR            local address to listen on (default 127.0.0.1)
  --session-pool N       parallel sessions per tunnel, 1-8 (default 1)
  --auto-start           start the tunnel when the daemon starts (--no-auto-start to clear)
  --keep-alive           keep idle sessions open (--no-keep-alive to clear)
  --allow-non-loopback   allow --bind to be an address other than loopback`;

/** Copies the flags that were given onto `profile`; flags not given leave fields unchanged. */
function applyFlags(command: string, args: ParsedArgs, profile: Record<string, unknown>): void {
  const text = (flag: string, field: string) => {
    const value = stringOption(args, flag);
    if (value !== undefined) {
      profile[field] = value;
    }
  };
  const integer = (flag: string, field: string, range?: IntegerRange) => {
    const value = integerOption(command, args, flag, range);
    if (value !== undefined) {
      profile[field] = value;
    }
  };
  const toggle = (flag: string, field: string) => {
    if (args.values[flag] && args.values[`no-${flag}`]) {
      throw new CliError(`--${flag} and --no-${flag} contradict each other; give one`, 2);
    }
    if (args.values[flag]) {
      profile[field] = true;
    } else if (args.values[`no-${flag}`]) {
      profile[field] = false;
    }
  };
  text('target', 'target');
  applyTargetTags(command, args, profile);
  const host = stringOption(args, 'remote-host') ?? stringOption(args, 'host');
  if (host !== undefined) {
    profile.remoteHost = host;
  }
  integer('remote-port', 'remotePort', PORT_RANGE);
  integer('local-port', 'localPort', PORT_RANGE);
  text('region', 'region');
  text('aws-profile', 'awsProfile');
  const mode = stringOption(args, 'mode');
  if (mode !== undefined && mode !== 'on-demand' && mode !== 'always-on') {
    throw invalidOption(command, 'mode', mode, 'on-demand or always-on');
  }
  text('mode', 'mode');
  text('bind', 'bindAddress');
  integer('session-pool', 'sessionPool', { min: 1, max: MAX_SESSION_POOL });
  toggle('auto-start', 'autoStart');
  toggle('keep-alive', 'keepAlive');
  if (args.values['allow-non-loopback']) {
    profile.allowNonLoopback = true;
  }
  const endpoint = urlOption(command, args, 'endpoint-url');
  if (endpoint !== undefined) {
    profile.endpoints = Object.fromEntries(ENDPOINT_SERVICES.map((service) => [service, endpoint]));
  }
  const ssmEndpoint = urlOption(command, args, 'ssm-endpoint');
  if (ssmEndpoint !== undefined) {
    profile.endpoints = { ...(profile.endpoints as object | undefined), ssm: ssmEndpoint };
  }
  const groups = args.values.group;
  if (Array.isArray(groups)) {
    profile.groups = groups;
  }
}

/** Sets `target` to `{ tags }` from repeated `--target-tag KEY=VALUE` flags. */
function applyTargetTags(command: string, args: ParsedArgs, profile: Record<string, unknown>) {
  const pairs = args.values['target-tag'];
  if (!Array.isArray(pairs)) {
    return;
  }
  if (args.values.target !== undefined) {
    throw new CliError(
      `--target and --target-tag both pick the target; give one; see \`bastionless ${command} --help\``,
      EXIT_USAGE,
    );
  }
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf('=');
    if (separator <= 0) {
      throw new CliError(
        `--target-tag "${pair}" is not KEY=VALUE; use e.g. --target-tag Name=bastion`,
        EXIT_USAGE,
      );
    }
    tags[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  profile.target = { tags };
}

/** Flags `add` needs. */
const REQUIRED_ADD_FLAGS: readonly RequiredOption[] = [
  [
    '--target',
    (args) => args.values.target !== undefined || args.values['target-tag'] !== undefined,
  ],
  [
    '--remote-port',
    (args) => args.values['remote-port'] !== undefined || remoteHostIsLookedUp(args),
  ],
  ['--local-port', (args) => args.values['local-port'] !== undefined],
];

/** True for `rds:`, `rds-cluster:` and `elasticache:` hosts, whose lookup returns the port. */
function remoteHostIsLookedUp(args: ParsedArgs): boolean {
  const host = args.values['remote-host'] ?? args.values.host;
  return typeof host === 'string' && parseRemoteHost(host).kind !== 'host';
}

/**
 * Turns a store error into a CLI error. A config file the command could not use gets the shared
 * wording, and a rejected profile lists every invalid field.
 */
function profileFailure(error: unknown): never {
  if (error instanceof ConfigError && error.code.startsWith('ERR_CONFIG_')) {
    throw configFileError(error, { leftUnchanged: true });
  }
  if (error instanceof ConfigError) {
    const details =
      error.fields.length > 1 ? error.fields.map((field) => `  ${field.message}`) : [];
    throw new CliError(error.message, 1, details);
  }
  throw error;
}

/**
 * Warns when --aws-profile names a profile that neither AWS file defines. It only warns, because
 * the files may be written after the profile, e.g. by `aws configure sso`.
 */
function warnUnknownAwsProfile(args: ParsedArgs, profileName: string): void {
  const awsProfile = stringOption(args, 'aws-profile');
  if (awsProfile === undefined) {
    return;
  }
  const files = awsProfileFiles();
  if (awsProfileDefined(awsProfile, files)) {
    return;
  }
  process.stderr.write(
    `warning: AWS profile "${awsProfile}" is not in ${files.configFile} or ${files.credentialsFile}; ` +
      `create it with \`aws configure --profile ${awsProfile}\` or \`aws configure sso\`, ` +
      `or choose another with \`bastionless edit ${profileName} --aws-profile PROFILE\`\n`,
  );
}

/** When a daemon in `condition` applies a change it has missed, as a clause. */
function whenChangeApplies(condition: ProcessCondition): string {
  if (condition === 'suspended') {
    return 'the change takes effect when it resumes';
  }
  if (condition === 'traced') {
    return 'the change takes effect when the debugger continues it';
  }
  return 'the change takes effect once it responds again';
}

/**
 * Warns after a successful write when the daemon does not apply the change: when it runs on
 * another config file, and when it owns the state directory but does not respond, e.g. under
 * SIGSTOP, because it applies the change only once it runs again. A daemon whose token file
 * alone is unusable still watches the config file, so it gets no warning.
 */
async function warnIfDaemonMissesChange(args: ParsedArgs): Promise<void> {
  const { configFile } = pathsFor(args);
  const probe = await probeDaemon(pathsFor(args));
  if (
    probe.state === 'running' &&
    probe.configFile !== undefined &&
    probe.configFile !== configFile
  ) {
    process.stderr.write(
      `warning: the running daemon uses config file ${probe.configFile}, not ${configFile}, so it does not apply this change; ` +
        `pass \`--config ${probe.configFile}\` to change its profiles, or restart it on this file with ` +
        `\`bastionless stop\` and \`bastionless start --config ${configFile}\`\n`,
    );
    return;
  }
  if (probe.state !== 'unresponsive' || probe.tokenProblem !== undefined) {
    return;
  }
  const condition = processCondition(probe.pid);
  const { problem, nextStep } = describeUnresponsiveDaemon(probe, condition);
  process.stderr.write(`warning: ${problem}, and ${whenChangeApplies(condition)}; ${nextStep}\n`);
}

function openStore(args: ParsedArgs): ConfigStore {
  const store = new ConfigStore({ file: pathsFor(args).configFile });
  store.load();
  return store;
}

export const addCommand: Command = {
  name: 'add',
  summary: 'add a tunnel profile',
  help: `Usage: bastionless add NAME --target ID --remote-port N --local-port N [options]

Adds a profile to the config file; a running daemon picks it up within a second.

${PROFILE_OPTIONS_HELP}
  --config FILE          config file (default: BASTIONLESS_CONFIG or the per-user location)

Examples:
  bastionless add pg --target i-0123456789abcdef0 --remote-port 5432 --local-port 15432
  bastionless add orders --target-tag Name=bastion --host rds:orders-db --local-port 15433
  bastionless add web --target i-0123456789abcdef0 --remote-port 80 --local-port 18080 --group prod`,
  async run(argv) {
    const args = parseCommandArgs('add', argv, PROFILE_OPTIONS);
    const name = requirePositional('add', args, 'profile name');
    requireOptions('add', args, REQUIRED_ADD_FLAGS);
    const awsProfile = stringOption(args, 'aws-profile');
    const region = requireRegion('add', { flag: stringOption(args, 'region'), awsProfile });
    const profile: Record<string, unknown> = { name, region: region.region };
    applyFlags('add', args, profile);
    const store = openStore(args);
    let created;
    try {
      created = store.create(profile);
    } catch (error) {
      profileFailure(error);
    }
    print(
      `added profile "${created.name}" on ${formatHostPort(created.bindAddress, created.localPort)} (${store.file})`,
    );
    print(`region ${created.region} from ${region.source}`);
    warnUnknownAwsProfile(args, created.name);
    await warnIfDaemonMissesChange(args);
    return 0;
  },
};

export const editCommand: Command = {
  name: 'edit',
  summary: 'change fields of a tunnel profile',
  help: `Usage: bastionless edit NAME [options]

Changes the given fields of a profile and leaves the others as they are; a running
daemon restarts the tunnel with the new settings.

${PROFILE_OPTIONS_HELP}
  --config FILE          config file (default: BASTIONLESS_CONFIG or the per-user location)

Examples:
  bastionless edit pg --local-port 15433
  bastionless edit pg --mode always-on --auto-start
  bastionless edit web --group prod --group frontend`,
  async run(argv) {
    const args = parseCommandArgs('edit', argv, PROFILE_OPTIONS);
    const name = requirePositional('edit', args, 'profile name');
    const store = openStore(args);
    if (store.error) {
      throw configFileError(store.error, { leftUnchanged: true });
    }
    // Checks the flags before the lock is taken. The store applies them again to the profile it
    // reads under the lock, so a change another process made meanwhile is kept.
    const existing = store.getProfile(name);
    if (!existing) {
      profileFailure(store.notFoundError(name));
    }
    applyFlags('edit', args, { ...existing });
    const changes = Object.entries(args.values).filter(
      ([key, value]) => key !== 'config' && value !== undefined && value !== false,
    );
    if (changes.length === 0) {
      throw new CliError(
        `nothing to change for profile "${name}"; give at least one option, see \`bastionless edit --help\``,
        EXIT_USAGE,
      );
    }
    try {
      store.update(name, (current) => {
        const profile = { ...current } as unknown as Record<string, unknown>;
        applyFlags('edit', args, profile);
        return profile;
      });
    } catch (error) {
      profileFailure(error);
    }
    print(`updated profile "${name}"`);
    warnUnknownAwsProfile(args, name);
    await warnIfDaemonMissesChange(args);
    return 0;
  },
};

export const removeCommand: Command = {
  name: 'rm',
  summary: 'remove a tunnel profile',
  help: `Usage: bastionless rm NAME [--config FILE]

Removes a profile from the config file; a running daemon stops its tunnel.

Examples:
  bastionless rm pg
  bastionless rm pg --config ~/work/bastionless.json`,
  async run(argv) {
    const args = parseCommandArgs('rm', argv, {});
    const name = requirePositional('rm', args, 'profile name');
    const store = openStore(args);
    try {
      store.remove(name);
    } catch (error) {
      profileFailure(error);
    }
    print(`removed profile "${name}"`);
    await warnIfDaemonMissesChange(args);
    return 0;
  },
};
