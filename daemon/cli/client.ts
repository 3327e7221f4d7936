// HTTP client the CLI uses to reach the running daemon, found through the state directory.

import { probeDaemon } from '../instance-lock.js';
import { processExists, type BastionlessPaths } from '../paths.js';
import { readStateFile, StateFileError } from '../state-file.js';
import { CliError, daemonNotRunning, EXIT_FAILURE } from './errors.js';
import {
  parseProcStatState,
  parsePsState,
  processCondition,
  SYSTEM_INSPECTOR,
  unresponsiveDaemonError,
  type ProcessInspector,
} from './unresponsive.js';

/** Max size of a pid file read, which contains one pid and a newline. */
const MAX_PID_FILE_BYTES = 4096;

/**
 * Returns true when `pid` has exited. A zombie counts as exited: a daemon killed with
 * `kill -9` stays a zombie until its parent reaps it, and signal 0 still reaches a zombie.
 */
export function hasExited(pid: number, inspector: ProcessInspector = SYSTEM_INSPECTOR): boolean {
  if (!processExists(pid)) {
    return true;
  }
  let state: string | null = null;
  if (inspector.platform === 'linux') {
    try {
      state = parseProcStatState(inspector.readTextFile(`/proc/${pid}/stat`));
    } catch {
      // The process exited since the signal 0 check.
      return true;
    }
  } else if (inspector.platform !== 'win32') {
    const output = inspector.runCommand('ps', ['-o', 'stat=', '-p', String(pid)]);
    state = output === null ? null : parsePsState(output.stdout);
  }
  // Linux shows Z for a zombie and X for a process being removed, and ps on macOS shows Z.
  return state === 'Z' || state === 'X';
}

/** Reads the pid in the pid file, or null when the file is missing, unreadable or has no pid. */
function pidInFile(pidFile: string): number | null {
  try {
    const content = readStateFile(pidFile, MAX_PID_FILE_BYTES);
    const pid = content === null ? Number.NaN : Number.parseInt(content.text.trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch (error) {
    if (error instanceof StateFileError) {
      return null;
    }
    throw error;
  }
}

/**
 * Returns the error for a stopped daemon. `stalePid` is the live process the pid file names,
 * as probeDaemon reports it. A pid file whose process exited was left by a daemon that did
 * not remove it, e.g. after `kill -9`, so the message calls it stale. A live process is
 * another program that reuses the pid, and the message names it as such.
 */
export function stoppedDaemonError(paths: BastionlessPaths, stalePid: number | null): CliError {
  const { message } = daemonNotRunning();
  if (stalePid !== null && !hasExited(stalePid)) {
    return new CliError(message, EXIT_FAILURE, [
      `process ${stalePid} in ${paths.pidFile} is not a bastionless daemon`,
    ]);
  }
  const pid = stalePid ?? pidInFile(paths.pidFile);
  if (pid === null) {
    return daemonNotRunning();
  }
  return new CliError(message, EXIT_FAILURE, [
    `the pid file ${paths.pidFile} is stale: the daemon (pid ${pid}) exited without removing ` +
      'it, e.g. after kill -9. `bastionless start` replaces the file',
  ]);
}

/**
 * Time one request may take. It is long so that a request that is slow on purpose still
 * finishes, and the probe in `connect` already catches a daemon that does not respond at all.
 */
const REQUEST_TIMEOUT_MS = 30_000;

interface ErrorReply {
  error?: {
    code?: string;
    message?: string;
    hint?: string;
    fields?: { path: string; message: string }[];
  };
}

export class DaemonClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    /** Pid of the daemon, used to tell a suspended daemon from a slow one after a timeout. */
    readonly pid?: number,
  ) {}

  /**
   * Probes the daemon with a short `GET /v1/status` and returns a client for it. A daemon that
   * owns the state directory lock but does not respond fails here within the probe's 2 s, with the
   * same message `status` prints, instead of after the 30 s of a request.
   */
  static async connect(paths: BastionlessPaths): Promise<DaemonClient> {
    const probe = await probeDaemon(paths);
    switch (probe.state) {
      case 'running':
        return new DaemonClient(probe.url, probe.token, probe.pid);
      case 'unresponsive':
        throw unresponsiveDaemonError(probe);
      case 'transitioning':
        throw new CliError(
          `the daemon (pid ${probe.pid}) is starting or stopping; run the command again in a few seconds`,
        );
      case 'stopped':
        throw stoppedDaemonError(paths, probe.stalePid);
    }
  }

  /** Sends one request and returns the parsed reply; throws CliError with the daemon's message. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        throw this.#timeoutError();
      }
      throw daemonNotRunning();
    }
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const error = (parsed as ErrorReply | undefined)?.error;
      const details = (error?.fields ?? []).map((field) => `  ${field.path}: ${field.message}`);
      if (error?.hint) {
        details.push(error.hint);
      }
      throw new CliError(
        error?.message ?? `${method} ${path} failed with HTTP ${response.status}`,
        1,
        details,
      );
    }
    return parsed as T;
  }

  /**
   * Returns the error for a request without a reply. A daemon suspended since the probe gets
   * the suspended message; a daemon that runs but is slow gets the command that checks it.
   */
  #timeoutError(): CliError {
    const port = Number(new URL(this.baseUrl).port);
    if (this.pid !== undefined) {
      const condition = processCondition(this.pid);
      if (condition === 'suspended' || condition === 'traced') {
        return unresponsiveDaemonError({ pid: this.pid, port });
      }
    }
    const daemon = this.pid === undefined ? 'the daemon' : `the daemon (pid ${this.pid})`;
    return new CliError(
      `a request to ${daemon} timed out after ${REQUEST_TIMEOUT_MS / 1000} s`,
      EXIT_FAILURE,
      [
        'check it with `bastionless status`, or restart it with `bastionless stop` and `bastionless start`',
      ],
    );
  }
}
