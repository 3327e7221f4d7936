// Entry point of the `bastionless` command: dispatches to one command and turns failures into
// one sentence on stderr and a non-zero exit code.

import { closestMatch } from './args.js';
import type { Command } from './command.js';
import { CliError, describeFileSystemError, EXIT_FAILURE, EXIT_USAGE } from './errors.js';
import { readVersion } from './process-commands.js';

// The AWS SDK warns on Node.js 20 that releases after January 2027 will need Node.js 22. The
// locked SDK version runs on 20, so the warning would only clutter every command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const connectCommand: Command = {
  name: 'connect',
  summary: 'forward one local port without the daemon',
  help: 'Usage: bastionless connect --help',
  async run(argv) {
    const { runConnect } = await import('./connect.js');
    return runConnect(argv);
  },
};

interface CommandEntry {
  name: string;
  load: () => Promise<Command>;
}

// Commands load on use, because some pull in the AWS SDK, which adds seconds to every start.
const COMMANDS: readonly CommandEntry[] = [
  { name: 'daemon', load: async () => (await import('./process-commands.js')).daemonCommand },
  { name: 'start', load: async () => (await import('./process-commands.js')).startCommand },
  { name: 'stop', load: async () => (await import('./process-commands.js')).stopCommand },
  { name: 'status', load: async () => (await import('./tunnel-commands.js')).statusCommand },
  { name: 'up', load: async () => (await import('./tunnel-commands.js')).upCommand },
  { name: 'down', load: async () => (await import('./tunnel-commands.js')).downCommand },
  { name: 'add', load: async () => (await import('./profile-commands.js')).addCommand },
  { name: 'edit', load: async () => (await import('./profile-commands.js')).editCommand },
  { name: 'rm', load: async () => (await import('./profile-commands.js')).removeCommand },
  { name: 'logs', load: async () => (await import('./logs-command.js')).logsCommand },
  { name: 'dashboard', load: async () => (await import('./tunnel-commands.js')).dashboardCommand },
  { name: 'connect', load: async () => connectCommand },
  { name: 'doctor', load: async () => (await import('./doctor.js')).doctorCommand },
  { name: 'targets', load: async () => (await import('./targets.js')).targetsCommand },
  { name: 'policy', load: async () => (await import('./policy.js')).policyCommand },
  { name: 'audit', load: async () => (await import('./audit.js')).auditCommand },
  { name: 'mfa', load: async () => (await import('./mfa-command.js')).mfaCommand },
  { name: 'profiles', load: async () => (await import('./profiles-sync.js')).profilesCommand },
];

async function usage(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map((entry) => entry.load()));
  const width = Math.max(...commands.map((command) => command.name.length));
  const lines = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `Usage: bastionless COMMAND [options]

Reach private-subnet hosts through AWS Systems Manager port forwarding.

Commands:
${lines.join('\n')}

Run \`bastionless COMMAND --help\` or \`bastionless help COMMAND\` for the options of one command.
BASTIONLESS_HOME=DIR keeps the config file and state under DIR.`;
}

/**
 * Runs `bastionless help [COMMAND]`: the general help without COMMAND, else the help of that
 * command, which is the output of `bastionless COMMAND --help`.
 */
async function runHelp(args: string[]): Promise<number> {
  // --config only selects a file, so it changes no help text.
  const configAt = args.indexOf('--config');
  const words = configAt < 0 ? args : [...args.slice(0, configAt), ...args.slice(configAt + 2)];
  const [name, extra] = words;
  if (name === undefined) {
    process.stdout.write(`${await usage()}\n`);
    return 0;
  }
  if (extra !== undefined) {
    throw new CliError(
      `unexpected argument "${extra}"; run \`bastionless help COMMAND\` with one command`,
      EXIT_USAGE,
    );
  }
  const command = await findCommand(name);
  // connect's help text lives in its module, which connect prints for --help.
  if (command === connectCommand) {
    return command.run(['--help']);
  }
  process.stdout.write(`${command.help}\n`);
  return 0;
}

/**
 * Loads the command called `name`. An unknown name is a usage error that suggests the closest
 * match.
 */
async function findCommand(name: string): Promise<Command> {
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    const suggestion = closestMatch(
      name,
      COMMANDS.map((candidate) => candidate.name),
    );
    const next =
      suggestion === undefined
        ? 'run `bastionless --help` for the list'
        : `did you mean \`bastionless ${suggestion}\`? Run \`bastionless --help\` for the list`;
    throw new CliError(`unknown command "${name}"; ${next}`, EXIT_USAGE);
  }
  return entry.load();
}

/** Moves `--config FILE` given before the command behind it, where the command parses it. */
function hoistGlobalOptions(argv: string[]): string[] {
  const leading: string[] = [];
  let index = 0;
  while (argv[index] === '--config' && argv[index + 1] !== undefined) {
    leading.push(argv[index]!, argv[index + 1]!);
    index += 2;
  }
  const [name, ...rest] = argv.slice(index);
  return name === undefined ? [] : [name, ...rest, ...leading];
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = hoistGlobalOptions(argv);
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${await usage()}\n`);
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === 'help') {
    return runHelp(rest);
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${readVersion() ?? 'unknown'}\n`);
    return 0;
  }
  const command = await findCommand(name);
  // connect parses its own options, including --help.
  if (command !== connectCommand && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof CliError) {
      process.stderr.write(`bastionless: ${error.message}\n`);
      for (const line of error.details) {
        process.stderr.write(`${line}\n`);
      }
      process.exitCode = error.exitCode;
      return;
    }
    const fileSystemProblem = describeFileSystemError(error);
    if (fileSystemProblem !== null) {
      process.stderr.write(`bastionless: ${fileSystemProblem}\n`);
      process.exitCode = EXIT_FAILURE;
      return;
    }
    const { code, hint } = error as { code?: unknown; hint?: unknown };
    const message = (error as Error).message ?? String(error);
    process.stderr.write(`bastionless: ${typeof code === 'string' ? `${code}: ` : ''}${message}\n`);
    // A BastionlessError's hint is the next step, e.g. the login command to run.
    if (typeof hint === 'string' && hint !== '') {
      process.stderr.write(`${hint}\n`);
    }
    process.exitCode = EXIT_FAILURE;
  },
);
