// HTTP client the CLI uses to reach the running daemon, found through the state directory.

import { readStateFile } from '../state-file.js';
import type { BastionlessPaths } from '../paths.js';
import { processExists, type ApiFile } from '../paths.js';
import { readTokenFile } from '../api/auth.js';
import { CliError, daemonNotRunning } from './errors.js';

const REQUEST_TIMEOUT_MS = 30_000;

interface ErrorReply {
  error?: {
    code?: string;
    message?: string;
    hint?: string;
    fields?: { path: string; message: string }[];
  };
}

/** api.json contains a port, a pid and a path, so anything larger is not one. */
const MAX_API_FILE_BYTES = 64 * 1024;

export class DaemonClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  /** Reads the API file and the token; throws "daemon not running" when either is unusable. */
  static fromState(paths: BastionlessPaths): DaemonClient {
    let api: ApiFile;
    let token: string;
    try {
      const content = readStateFile(paths.apiFile, MAX_API_FILE_BYTES);
      if (content === null) {
        throw daemonNotRunning();
      }
      api = JSON.parse(content.text) as ApiFile;
      token = readTokenFile(paths.tokenFile);
    } catch {
      throw daemonNotRunning();
    }
    if (!Number.isInteger(api.port) || !processExists(api.pid)) {
      throw daemonNotRunning();
    }
    return new DaemonClient(`http://127.0.0.1:${api.port}`, token);
  }

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
        throw new CliError(
          `the daemon did not respond to ${method} ${path} within ${REQUEST_TIMEOUT_MS / 1000} s`,
        );
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
}
