// `bastionless connect`: forwards one local port through one SSM session, in the
// foreground and without the daemon, like `aws ssm start-session` with the plugin.

import { once, type EventEmitter } from 'node:events';
import { createServer, isIP, type Server, type Socket } from 'node:net';

import { createAuditLog } from '../audit/log.js';
import { createSsmClient } from '../aws/clients.js';
import { DATA_CHANNEL_DEFAULTS } from '../datachannel/options.js';
import type { ReconnectAttemptFailure } from '../datachannel/reconnect.js';
import {
  BastionlessError,
  classifyError,
  withRunAgainHint,
  type ClassifyContext,
} from '../errors.js';
import { resolvePaths } from '../paths.js';
import { startPortForwardSession } from '../portforward/index.js';
import type { PortForwardSession, SessionEnd } from '../portforward/types.js';
import type { TunnelStatus } from '../config/types.js';
import { probeDaemon } from '../instance-lock.js';
import { describePortOwner, type PortInUseText } from '../tunnel/listeners.js';
import {
  integerOption,
  invalidOption,
  LISTEN_PORT_RANGE,
  parseExactArgs,
  PORT_RANGE,
  requireOptions,
  requireRegion,
  stringOption,
  unexpectedArgument,
  type OptionSpec,
  type ParsedArgs,
  type RequiredOption,
} from './args.js';
import {
  followReconnects,
  ReconnectReporter,
  ResumeFailureTracker,
  withoutFinalPeriod,
} from './connect-reconnect.js';
import { DaemonClient } from './client.js';
import { startReplacementSession } from './connect-restart.js';
import { CliError, EXIT_USAGE } from './errors.js';

const USAGE = `Usage: bastionless connect --target ID --remote-port N --local-port N [options]

Forwards a local port to a host reachable from an SSM managed node, until Ctrl-C. Each
ended session is appended to the audit log (\`bastionless audit --profile connect\`).
When a session cannot be resumed (the service no longer has it, or the resume timed out),
a new session starts on the same local port. Connections open on the old session are
closed. connect exits when no new session can start for a lasting reason, or after
${DATA_CHANNEL_DEFAULTS.reconnectForMs / 60_000} min of failed starts.

Options:
  --target ID          managed node id (i-… or mi-…) that runs the SSM agent
  --remote-host HOST   host the agent connects to; default: the managed node itself
                       (--host is an alias)
  --remote-port N      port on that host (1-65535)
  --local-port N       local port to listen on (0 picks a free port)
  --bind ADDRESS       loopback address to listen on; default 127.0.0.1
  --region R           AWS region; default: AWS_REGION, AWS_DEFAULT_REGION, or region in
                       the AWS profile's section of ~/.aws/config
  --aws-profile NAME   named profile from the AWS config files (--profile is an alias)
  --endpoint-url URL   endpoint for every AWS service, e.g. the local emulator or a proxy
  --ssm-endpoint URL   endpoint for SSM only, e.g. a VPC endpoint; wins over --endpoint-url
  -h, --help           print this help

Examples:
  bastionless connect --target i-0123456789abcdef0 --remote-port 22 --local-port 2222
  bastionless connect --target i-0123456789abcdef0 --remote-host db.internal --remote-port 5432 --local-port 15432`;

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
/** Connections accepted while no session can carry them wait this long, then are closed. */
const PENDING_CONNECTION_TIMEOUT_MS = 60_000;
/** Profile name of `connect` sessions in the audit log, which has no profile of its own. */
export const CONNECT_AUDIT_PROFILE = 'connect';

export interface ConnectOptions {
  target: string;
  host?: string;
  remotePort: number;
  localPort: number;
  bind: string;
  region: string;
  profile?: string;
  endpointUrl?: string;
}

export interface ConnectIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Source of SIGINT and SIGTERM; default: the process. */
  signals: Pick<EventEmitter, 'on' | 'once' | 'off'>;
  env: NodeJS.ProcessEnv;
}

function isLoopback(address: string): boolean {
  return (isIP(address) === 4 && address.startsWith('127.')) || address === '::1';
}

/** Returns the value of a flag that has an alias; both given with different values is an error. */
function aliasedValue(args: ParsedArgs, name: string, alias: string): string | undefined {
  const main = stringOption(args, name);
  const other = stringOption(args, alias);
  if (main !== undefined && other !== undefined && main !== other) {
    throw new CliError(
      `--${name} "${main}" and --${alias} "${other}" differ; give one of them`,
      EXIT_USAGE,
    );
  }
  return main ?? other;
}

const CONNECT_OPTIONS: OptionSpec = {
  target: { type: 'string' },
  'remote-host': { type: 'string' },
  host: { type: 'string' },
  'remote-port': { type: 'string' },
  'local-port': { type: 'string' },
  bind: { type: 'string' },
  region: { type: 'string' },
  'aws-profile': { type: 'string' },
  profile: { type: 'string' },
  'endpoint-url': { type: 'string' },
  'ssm-endpoint': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const REQUIRED_CONNECT_OPTIONS: readonly RequiredOption[] = [
  ['--target', (args) => args.values.target !== undefined],
  ['--remote-port', (args) => args.values['remote-port'] !== undefined],
  ['--local-port', (args) => args.values['local-port'] !== undefined],
];

/**
 * Validates the command line with the option validators every command uses; returns null for
 * --help. Throws a CliError with exit code 2 that names the value and the fix.
 */
export function parseConnectArgs(argv: string[], env: NodeJS.ProcessEnv): ConnectOptions | null {
  // parseExactArgs also validates --target, --region and both endpoint URLs.
  const args = parseExactArgs('connect', argv, CONNECT_OPTIONS);
  if (args.values.help) {
    return null;
  }
  if (args.positionals.length > 0) {
    throw unexpectedArgument('connect', args.positionals[0]!);
  }
  requireOptions('connect', args, REQUIRED_CONNECT_OPTIONS);

  const host = aliasedValue(args, 'remote-host', 'host');
  if (host !== undefined && (host === '' || /\s/.test(host))) {
    throw invalidOption('connect', 'remote-host', host, 'a host name or IP address');
  }
  const bind = stringOption(args, 'bind') ?? '127.0.0.1';
  if (!isLoopback(bind)) {
    throw invalidOption(
      'connect',
      'bind',
      bind,
      'a loopback address such as 127.0.0.1 or ::1, because connect listens on loopback only',
    );
  }
  const profile = aliasedValue(args, 'aws-profile', 'profile');
  const { region } = requireRegion('connect', {
    flag: stringOption(args, 'region'),
    awsProfile: profile,
    env,
  });
  return {
    target: stringOption(args, 'target')!,
    host,
    remotePort: integerOption('connect', args, 'remote-port', PORT_RANGE)!,
    localPort: integerOption('connect', args, 'local-port', LISTEN_PORT_RANGE)!,
    bind,
    region,
    profile,
    // connect calls SSM only, so both flags set the SSM endpoint and --ssm-endpoint wins.
    endpointUrl: stringOption(args, 'ssm-endpoint') ?? stringOption(args, 'endpoint-url'),
  };
}

/**
 * Names the tunnel of this home's daemon that listens on `port`, with the command that stops
 * only that tunnel. Returns undefined when no daemon runs for this home, when none of its
 * tunnels listens on the port, or when the daemon does not respond.
 */
async function describeOwnTunnel(
  port: number,
  env: NodeJS.ProcessEnv,
): Promise<PortInUseText | undefined> {
  try {
    const probe = await probeDaemon(resolvePaths({ env }));
    if (probe.state !== 'running') {
      return undefined;
    }
    const client = new DaemonClient(probe.url, probe.token, probe.pid);
    const tunnels = await client.request<TunnelStatus[]>('GET', '/v1/tunnels');
    const { listensOnPort } = await import('./doctor.js');
    const tunnel = tunnels.find((candidate) => listensOnPort(candidate, port));
    if (tunnel === undefined) {
      return undefined;
    }
    return {
      owner: ` by tunnel ${tunnel.name} of the bastionless daemon (pid ${probe.pid})`,
      hint: `Stop that tunnel with \`bastionless down ${tunnel.name}\`, or pick another --local-port.`,
    };
  } catch {
    // The generic owner lookup still names the process.
    return undefined;
  }
}

async function bindListener(options: ConnectOptions, env: NodeJS.ProcessEnv): Promise<Server> {
  const server = createServer({ pauseOnConnect: true });
  server.listen(options.localPort, options.bind);
  try {
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const address = `${options.bind}:${options.localPort}`;
    if (code === 'EADDRINUSE') {
      // A tunnel of this home's daemon is named with its down command. Otherwise the lookup is
      // a tunnel's, so another daemon is named with its stop command.
      const { owner, hint } =
        (await describeOwnTunnel(options.localPort, env)) ??
        (await describePortOwner(options.localPort, 'pick another --local-port'));
      throw new BastionlessError(
        'ERR_PORT_IN_USE',
        `local port ${address} is already in use${owner}`,
        {
          hint,
          cause: error,
        },
      );
    }
    if (code === 'EACCES') {
      throw new Error(`permission denied to listen on ${address}; pick a --local-port above 1023`);
    }
    throw new Error(`listening on ${address} failed: ${(error as Error).message}`);
  }
  return server;
}

function describeRemote(options: ConnectOptions): string {
  return `${options.host ?? options.target}:${options.remotePort}`;
}

/**
 * Runs `bastionless connect` and resolves with the exit code: 0 after Ctrl-C, SIGTERM or
 * an end by the service, 1 on a failure, 2 on invalid arguments.
 */
export async function runConnect(argv: string[], io: Partial<ConnectIo> = {}): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => void process.stderr.write(text));
  const signals = io.signals ?? process;
  let options: ConnectOptions | null;
  try {
    options = parseConnectArgs(argv, io.env ?? process.env);
  } catch (error) {
    if (!(error instanceof CliError)) {
      throw error;
    }
    // One line as every command prints it; the help text stays behind --help.
    stderr(`bastionless: ${error.message}\n`);
    return error.exitCode;
  }
  if (options === null) {
    stdout(`${USAGE}\n`);
    return EXIT_OK;
  }

  // Bind first, so a port in use fails before any session exists on the service.
  let server: Server;
  try {
    server = await bindListener(options, io.env ?? process.env);
  } catch (error) {
    stderr(`bastionless connect: ${(error as Error).message}\n`);
    if (error instanceof BastionlessError && error.hint) {
      stderr(`${error.hint}\n`);
    }
    return EXIT_FAILURE;
  }
  const address = server.address();
  const localPort = typeof address === 'object' && address !== null ? address.port : 0;
  const local = options.bind.includes(':')
    ? `[${options.bind}]:${localPort}`
    : `${options.bind}:${localPort}`;
  stdout(`Listening on ${local}, forwarding to ${describeRemote(options)} via ${options.target}\n`);

  return forward(server, options, local, { stdout, stderr, signals, env: io.env ?? process.env });
}

/** Connections accepted while a session starts or resumes, each closed if it waits too long. */
class PendingConnections {
  private readonly sockets = new Map<Socket, NodeJS.Timeout>();

  add(socket: Socket): void {
    const timer = setTimeout(() => {
      this.sockets.delete(socket);
      socket.destroy();
    }, PENDING_CONNECTION_TIMEOUT_MS);
    this.sockets.set(socket, timer);
    socket.once('close', () => {
      clearTimeout(this.sockets.get(socket));
      this.sockets.delete(socket);
    });
  }

  /** Hands every waiting connection to `session` and returns them. */
  handOver(session: PortForwardSession): Socket[] {
    const sockets = [...this.sockets.keys()];
    for (const [socket, timer] of this.sockets) {
      clearTimeout(timer);
      session.handleConnection(socket);
    }
    this.sockets.clear();
    return sockets;
  }

  destroyAll(): void {
    for (const [socket, timer] of this.sockets) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.sockets.clear();
  }
}

function reportSessionEvents(
  session: PortForwardSession,
  options: ConnectOptions,
  io: Pick<ConnectIo, 'stdout' | 'stderr'>,
  reporter: ReconnectReporter,
): void {
  io.stdout(
    `Session ${session.sessionId} open (${session.mode} mode, agent ${session.agentVersion}); ` +
      'press Ctrl-C to end it\n',
  );
  session.on('dial-failed', () => {
    io.stderr(
      `connection to ${describeRemote(options)} failed on the target; check that it listens ` +
        'and that security groups let the managed node reach it\n',
    );
  });
  followReconnects(session, reporter);
}

/** Appends the ended session to the audit log; a failed write is reported, not fatal. */
async function recordAudit(
  session: PortForwardSession,
  options: ConnectOptions,
  startedAt: Date,
  end: SessionEnd,
  io: Pick<ConnectIo, 'stderr' | 'env'>,
): Promise<void> {
  const log = createAuditLog(resolvePaths({ env: io.env }).stateDir);
  try {
    await log.record({
      profile: CONNECT_AUDIT_PROFILE,
      target: options.target,
      remoteHost: options.host ?? null,
      remotePort: options.remotePort,
      sessionId: session.sessionId,
      start: startedAt.toISOString(),
      end: new Date().toISOString(),
      reason: `${end.by}: ${end.reason}`,
      bytesIn: session.stats.bytesIn,
      bytesOut: session.stats.bytesOut,
    });
  } catch (error) {
    io.stderr(`warning: writing the audit log ${log.file} failed: ${(error as Error).message}\n`);
  }
}

/**
 * Prints a failed session start with its code and hint, as the CLI prints every error. connect
 * exits after it, so a hint that promises the daemon's retry is replaced by one to run again.
 */
function printStartFailure(error: BastionlessError, io: Pick<ConnectIo, 'stderr'>): void {
  const reported = withRunAgainHint(error);
  io.stderr(`bastionless connect: ${reported.code}: ${reported.message}\n`);
  if (reported.hint) {
    io.stderr(`${reported.hint}\n`);
  }
}

/**
 * Routes each accepted connection to the open session. While no session can carry it
 * (starting or resuming), the connection waits. It is closed at once instead while the latest
 * attempt failed for a lasting reason, the rule the daemon applies to its tunnels.
 */
class ConnectionRouter {
  readonly pending = new PendingConnections();
  /** Connections handed to a session and still open. */
  private readonly carried = new Set<Socket>();
  private session: PortForwardSession | null = null;
  private resuming = false;
  private closeNewConnections = false;

  accept(socket: Socket): void {
    if (this.session !== null && !this.resuming) {
      this.carry(socket, this.session);
    } else if (this.closeNewConnections) {
      socket.destroy();
    } else {
      this.pending.add(socket);
    }
  }

  private carry(socket: Socket, session: PortForwardSession): void {
    session.handleConnection(socket);
    this.track(socket);
  }

  private track(socket: Socket): void {
    if (socket.destroyed) {
      return;
    }
    this.carried.add(socket);
    socket.once('close', () => this.carried.delete(socket));
  }

  /**
   * Resets the open connections of the session (TCP RST), so their clients see an error rather
   * than wait for a resume that will not come. Returns the number reset.
   */
  resetCarried(): number {
    const sockets = [...this.carried];
    this.carried.clear();
    for (const socket of sockets) {
      // A socket whose remote already finished is half-closed, and a reset fails on it.
      if (socket.writableEnded) {
        socket.destroy();
      } else {
        socket.resetAndDestroy();
      }
    }
    return sockets.length;
  }

  /** Sets the fast-close verdict. Turning it on also closes the connections waiting so far. */
  setCloseNewConnections(close: boolean): void {
    this.closeNewConnections = close;
    if (close) {
      this.pending.destroyAll();
    }
  }

  /**
   * Routes connections to `session` and follows its resumes. Returns a function that stops
   * routing to it, for when it has ended.
   */
  open(session: PortForwardSession, resumeFailures: ResumeFailureTracker): () => void {
    const carry = (): void => {
      this.resuming = false;
      this.setCloseNewConnections(false);
      resumeFailures.reset();
      for (const socket of this.pending.handOver(session)) {
        this.track(socket);
      }
    };
    const onReconnecting = (): void => {
      this.resuming = true;
      resumeFailures.reset();
    };
    const onReconnectFailed = (failure: ReconnectAttemptFailure): void => {
      resumeFailures.record(failure);
      this.setCloseNewConnections(resumeFailures.closesNewConnections);
      if (resumeFailures.resetsOpenConnections) {
        resumeFailures.reportReset(this.resetCarried());
      }
    };
    this.session = session;
    carry();
    session.on('reconnecting', onReconnecting);
    session.on('reconnect-failed', onReconnectFailed);
    session.on('reconnected', carry);
    return () => {
      session.off('reconnecting', onReconnecting);
      session.off('reconnect-failed', onReconnectFailed);
      session.off('reconnected', carry);
      this.session = null;
      this.resuming = false;
      this.setCloseNewConnections(false);
      resumeFailures.reset();
    };
  }
}

async function forward(
  server: Server,
  options: ConnectOptions,
  local: string,
  io: ConnectIo,
): Promise<number> {
  const router = new ConnectionRouter();
  server.on('connection', (socket: Socket) => router.accept(socket));

  const controller = new AbortController();
  let stopRequested = false;
  let resolveStop!: (signal: string) => void;
  const stopped = new Promise<string>((resolve) => {
    resolveStop = resolve;
  });
  // The handlers stay until cleanup, because Ctrl-C under npx delivers SIGINT twice (from the
  // terminal and from npm), and a second signal without a handler would kill the process.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      return;
    }
    stopRequested = true;
    controller.abort();
    resolveStop(signal);
  };
  io.signals.on('SIGINT', onSignal);
  io.signals.on('SIGTERM', onSignal);

  const ssm = createSsmClient({
    region: options.region,
    awsProfile: options.profile,
    endpoint: options.endpointUrl,
  });
  const cleanup = (): void => {
    io.signals.off('SIGINT', onSignal);
    io.signals.off('SIGTERM', onSignal);
    router.pending.destroyAll();
    server.close();
    ssm.destroy();
  };
  const context: ClassifyContext = {
    awsProfile: options.profile,
    endpoint: options.endpointUrl,
    settings: 'flags',
  };
  const print = (line: string): void => io.stderr(`${line}\n`);
  const reporter = new ReconnectReporter({ print });
  const resumeFailures = new ResumeFailureTracker({ context, print });
  const start = (): Promise<PortForwardSession> =>
    startPortForwardSession({
      getSsmClient: () => ssm,
      target: options.target,
      remoteHost: options.host,
      remotePort: options.remotePort,
      localPort: options.localPort,
      signal: controller.signal,
    });
  const reportCancelledStart = async (): Promise<number> => {
    const signal = await stopped;
    io.stdout(
      `${signal} received during start-up; the session start was cancelled and any session ` +
        'it created was terminated\n',
    );
    return EXIT_OK;
  };

  let startedAt = new Date();
  let session: PortForwardSession;
  try {
    session = await start();
  } catch (error) {
    cleanup();
    if (stopRequested) {
      return reportCancelledStart();
    }
    printStartFailure(classifyError(error, context), io);
    return EXIT_FAILURE;
  }

  for (;;) {
    const active = session;
    reportSessionEvents(active, options, io, reporter);
    const stopRouting = router.open(active, resumeFailures);
    const ended = new Promise<SessionEnd>((resolve) => active.once('ended', resolve));
    const outcome = await Promise.race([
      stopped.then((signal) => ({ signal })),
      ended.then((end) => ({ end })),
    ]);
    reporter.stop();
    if ('signal' in outcome) {
      io.stdout(`${outcome.signal} received; ending session ${active.sessionId}\n`);
      await active.close(`${outcome.signal} received`);
      stopRouting();
      cleanup();
      const end: SessionEnd = { by: 'client', reason: `${outcome.signal} received` };
      await recordAudit(active, options, startedAt, end, io);
      return EXIT_OK;
    }
    stopRouting();
    const { end } = outcome;
    await recordAudit(active, options, startedAt, end, io);
    // As in the daemon, a session that ended with a retryable error is replaced by a new one,
    // for example after a resume that the service rejects because it no longer has the session.
    const cause = end.by === 'error' ? classifyError(end.error ?? end.reason, context) : null;
    if (cause === null || !cause.retryable || stopRequested) {
      cleanup();
      if (end.by === 'error') {
        io.stderr(`bastionless connect: session ${active.sessionId} failed: ${end.reason}\n`);
        return EXIT_FAILURE;
      }
      io.stdout(`Session ${active.sessionId} ended: ${end.reason}\n`);
      return EXIT_OK;
    }
    print(
      `session ${active.sessionId} ended (${cause.code}: ${withoutFinalPeriod(cause.message)}); ` +
        `starting a new session to ${describeRemote(options)} via ${options.target}, still ` +
        `listening on ${local}. Connections open on the old session were closed.`,
    );
    startedAt = new Date();
    const restarted = await startReplacementSession({
      start,
      signal: controller.signal,
      context,
      print,
      onVerdict: (close) => router.setCloseNewConnections(close),
    });
    if (restarted.kind !== 'started') {
      cleanup();
      if (restarted.kind === 'aborted') {
        return reportCancelledStart();
      }
      printStartFailure(restarted.error, io);
      return EXIT_FAILURE;
    }
    session = restarted.session;
  }
}
