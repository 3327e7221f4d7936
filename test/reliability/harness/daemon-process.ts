// The daemon as a child process (`bastionless daemon` from source), with its state under a
// home directory of its own, and RSS sampling from /proc.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordSecret } from '../../helpers/suite-secrets.js';

export { waitFor } from '../../cli/helpers.js';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * Folder holding the home directory of every daemon the reliability and security tests start.
 * Under `npm test` it lies inside the suite directory, so the secrets scan reads what the
 * homes leave behind (see test/helpers/suite-secrets.ts).
 */
export const TEST_HOMES_ROOT =
  process.env.BASTIONLESS_TEST_HOMES ?? join(tmpdir(), 'bastionless-test-homes');

/** Credentials the emulator checks; the secret parts must never reach a log file. */
export const TEST_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIARELIABILITY00001',
  secretAccessKey: 'reliability-secret-key-must-not-be-logged-5f2c9a',
  sessionToken: 'reliability-session-token-must-not-be-logged-81d4e7',
});

export const TEST_INSTANCE_ID = 'i-0123456789abcdef0';

/** Emulator scenario with one instance and the test credentials, signatures verified. */
export function reliabilityScenario(dialOverrides: Record<string, string> = {}) {
  return {
    credentials: [{ ...TEST_CREDENTIALS }],
    instances: [
      {
        instanceId: TEST_INSTANCE_ID,
        pingStatus: 'Online' as const,
        agentVersion: '3.3.987.0',
        tags: {},
      },
    ],
    dialOverrides,
  };
}

export interface TestHome {
  dir: string;
  stateDir: string;
  configFile: string;
  /**
   * Removes the home. Under `npm test` the vitest setup file first copies its logs, audit
   * file and API token out, so the secrets scan still reads them.
   */
  remove(): void;
}

export function createTestHome(label: string): TestHome {
  mkdirSync(TEST_HOMES_ROOT, { recursive: true });
  const dir = mkdtempSync(join(TEST_HOMES_ROOT, `${label}-`));
  return {
    dir,
    stateDir: join(dir, 'state'),
    configFile: join(dir, 'config.json'),
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Environment of a daemon child: test credentials and no instance-metadata lookups. */
export function daemonEnv(home: TestHome): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home.dir,
    BASTIONLESS_HOME: home.dir,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: TEST_CREDENTIALS.sessionToken,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}

export interface ProfileInput {
  name: string;
  localPort: number;
  remotePort: number;
  emulatorUrl: string;
  mode?: 'on-demand' | 'always-on';
  sessionPool?: number;
}

export function writeConfig(home: TestHome, profiles: ProfileInput[]): void {
  const document = {
    version: 2,
    profiles: profiles.map((profile) => ({
      name: profile.name,
      region: 'us-east-1',
      target: TEST_INSTANCE_ID,
      remoteHost: '127.0.0.1',
      remotePort: profile.remotePort,
      localPort: profile.localPort,
      endpoints: { ssm: profile.emulatorUrl },
      autoStart: true,
      mode: profile.mode ?? 'always-on',
      sessionPool: profile.sessionPool ?? 1,
    })),
  };
  mkdirSync(home.dir, { recursive: true });
  writeFileSync(home.configFile, `${JSON.stringify(document, null, 2)}\n`);
}

export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  api(): Promise<{ port: number; token: string }>;
  request<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  /** Sends SIGKILL and waits for the exit. */
  kill(): Promise<void>;
  /** Sends SIGTERM and waits for the exit, with SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export function startDaemonProcess(home: TestHome): DaemonProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', 'daemon'], {
    cwd: REPO_ROOT,
    env: daemonEnv(home),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const keep = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    if (text.length > 200_000) {
      text = text.slice(-100_000);
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let apiInfo: { port: number; token: string } | undefined;

  const api = async () => {
    if (apiInfo) {
      return apiInfo;
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const file = JSON.parse(readFileSync(join(home.stateDir, 'api.json'), 'utf8')) as {
          port: number;
          pid: number;
        };
        const token = readFileSync(join(home.stateDir, 'token'), 'utf8').trim();
        if (file.pid === child.pid && token) {
          // The daemon removes its token file when it stops, so the scan records it here.
          recordSecret('api-token', token);
          apiInfo = { port: file.port, token };
          return apiInfo;
        }
      } catch {
        // Not written yet.
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`daemon exited during start-up:\n${text}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`daemon API file did not appear within 30 s:\n${text}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const exitPromise = once(child, 'exit');
  // A test that times out never reaches its teardown; this keeps its daemon from outliving it.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));

  return {
    child,
    pid: child.pid!,
    output: () => text,
    api,
    async request<T>(path: string, init: RequestInit = {}) {
      const { port, token } = await api();
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
        signal: AbortSignal.timeout(10_000),
      });
      const raw = await response.text();
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // Not JSON: keep the text.
      }
      return { status: response.status, body: body as T };
    },
    async kill() {
      if (!exited()) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    },
    async stop(timeoutMs = 5000) {
      if (exited()) {
        return child.exitCode;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exitPromise;
      clearTimeout(timer);
      return child.exitCode;
    },
  };
}

/** Resident set size of a process in bytes, read from /proc (Linux only). */
export function readRssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}
