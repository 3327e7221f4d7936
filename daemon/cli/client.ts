// HTTP client the CLI uses to reach the running daemon, found through the state directory.

import { probeDaemon } from '../instance-lock.js';
import type { BastionlessPaths } from '../paths.js';
import { CliError, daemonNotRunning, EXIT_FAILURE } from './errors.js';
import { processCondition, unresponsiveDaemonError } from './unresponsive.js';

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
        if (probe.stalePid === null) {
          throw daemonNotRunning();
        }
        throw new CliError(daemonNotRunning().message, EXIT_FAILURE, [
          `process ${probe.stalePid} in ${paths.pidFile} is not a bastionless daemon`,
        ]);
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
