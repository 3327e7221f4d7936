// Process, socket and checksum helpers for the CLI and daemon end-to-end tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI_ENTRY = 'daemon/cli/main.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for CLI children: emulator credentials, and no instance-metadata lookups. */
export function cliEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    BASTIONLESS_HOME: home,
    AWS_ACCESS_KEY_ID: 'AKIAEMULATOREXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'emulator-secret',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}

/** A fresh home for one test: its directory, the CLI environment and its config file path. */
export interface CliHome {
  home: string;
  env: NodeJS.ProcessEnv;
  file: string;
}

/**
 * Gives each test of the file a new home under the temp directory and hands it to `use`.
 * After each test, a daemon left running in that home is stopped and the home is deleted.
 */
export function useCliHome(prefix: string, use: (created: CliHome) => void): void {
  let current: CliHome;
  beforeEach(() => {
    const home = mkdtempSync(join(tmpdir(), prefix));
    current = { home, env: cliEnv(home), file: join(home, 'config.json') };
    use(current);
  });
  afterEach(async () => {
    if (existsSync(join(current.home, 'state', 'api.json'))) {
      await runCli(['stop'], current.env);
    }
    rmSync(current.home, { recursive: true, force: true });
  });
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `bastionless ${args.join(' ')} timed out after ${timeoutMs} ms; stderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export { freePort } from '../helpers/ports.js';

/** Resolves true when nothing listens on the port, i.e. a new listener can bind it. */
export async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function startEchoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Sends `size` random bytes through the port and returns the SHA-256 of sent and echoed bytes. */
export function echoThrough(
  port: number,
  size: number,
  timeoutMs = 30_000,
): Promise<{ sent: string; received: string }> {
  const payload = randomBytes(size);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `echo through port ${port} timed out after ${timeoutMs} ms with ${received} of ${size} bytes`,
        ),
      );
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= size) {
        clearTimeout(timer);
        socket.end();
        resolve({ sent: sha256(payload), received: sha256(Buffer.concat(chunks)) });
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(payload);
  });
}

/** Polls `check` every 100 ms until it returns a value other than undefined, or times out. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An SSM emulator and an echo server that one test file shares. */
export interface EmulatorAndEcho {
  readonly emulator: Emulator;
  readonly echoPort: number;
  /** Returns a profile that forwards `localPort` through the emulator to the echo server. */
  profile(
    name: string,
    localPort: number,
    extra?: Record<string, unknown>,
  ): Record<string, unknown>;
}

/**
 * Starts an emulator and an echo server in beforeAll and closes them in afterAll. Call it before
 * the file's own hooks: vitest runs afterAll hooks in reverse order, so the file's hooks can
 * still stop their daemons while the emulator runs.
 */
export function setupEmulatorAndEcho(): EmulatorAndEcho {
  let emulator: Emulator | undefined;
  let echo: { server: Server; port: number } | undefined;
  beforeAll(async () => {
    emulator = await startEmulator({ pacing: false });
    echo = await startEchoServer();
  });
  afterAll(async () => {
    await emulator?.close();
    echo?.server.close();
  });
  const started = () => {
    if (!emulator || !echo) {
      throw new Error('the emulator is not running; use it inside a test or a hook');
    }
    return { emulator, echo };
  };
  return {
    get emulator() {
      return started().emulator;
    },
    get echoPort() {
      return started().echo.port;
    },
    profile(name, localPort, extra = {}) {
      const running = started();
      return {
        name,
        region: 'us-east-1',
        target: 'i-0123456789abcdef0',
        remoteHost: '127.0.0.1',
        remotePort: running.echo.port,
        localPort,
        endpoints: { ssm: running.emulator.url },
        ...extra,
      };
    },
  };
}

/** Returns the ids of the sessions that TerminateSession calls after the first `skip` ended. */
export function terminatedSessionIds(emulator: Emulator, skip = 0): string[] {
  return emulator.calls
    .slice(skip)
    .filter((call) => call.operation === 'AmazonSSM.TerminateSession')
    .map((call) => (call.input as { SessionId: string }).SessionId);
}

/** Opens a connection and waits for one echoed byte, so the tunnel keeps an open session. */
export async function openHeldConnection(port: number): Promise<Socket> {
  return waitFor(
    `a connection through port ${port}`,
    async () => {
      const socket = createConnection({ host: '127.0.0.1', port });
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000);
          socket.once('data', () => {
            clearTimeout(timer);
            resolve();
          });
          socket.once('error', reject);
          socket.write('x');
        });
        socket.on('error', () => {});
        return socket;
      } catch {
        socket.destroy();
        return undefined;
      }
    },
    30_000,
  );
}

/** Starts the daemon with `bastionless start` in `env` and returns its pid. */
export async function startDaemonPid(env: NodeJS.ProcessEnv): Promise<number> {
  const started = await runCli(['start'], env, 60_000);
  if (started.code !== 0) {
    throw new Error(`bastionless start failed with code ${started.code}: ${started.stderr}`);
  }
  const match = /pid (\d+)/.exec(started.stdout);
  if (match === null) {
    throw new Error(`bastionless start printed no pid: ${started.stdout}`);
  }
  return Number(match[1]);
}

/**
 * Resumes a daemon that a test may have stopped with SIGSTOP, stops it with `bastionless
 * stop`, and removes its home.
 */
export async function stopSuspendedDaemon(
  pid: number,
  env: NodeJS.ProcessEnv,
  home: string,
): Promise<void> {
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // The daemon already exited.
    }
    await runCli(['stop'], env).catch(() => undefined);
  }
  rmSync(home, { recursive: true, force: true });
}
