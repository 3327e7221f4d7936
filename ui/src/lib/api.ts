import type {
  DaemonStatus,
  FieldError,
  ManagedTarget,
  MfaRequest,
  Profile,
  TargetQuery,
  TrafficHistorySnapshot,
  TunnelStatus,
} from './types.js';

/** An error response of the control API, or a failure to reach it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];

  constructor(status: number, code: string, message: string, fields: FieldError[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** Code of the ApiError raised when no HTTP response arrives at all. */
export const ERR_DAEMON_UNREACHABLE = 'ERR_DAEMON_UNREACHABLE';

export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  /** Origin of the daemon, e.g. `http://127.0.0.1:7070`; empty for the page's own origin. */
  baseUrl: string;
  token: string;
  fetch?: FetchFunction;
  /** Time after which a request is aborted and reported as unreachable. */
  timeoutMs?: number;
}

export type TunnelAction = 'start' | 'stop' | 'restart';
export type GroupAction = 'start' | 'stop';

/** Client for the daemon's `/v1` control API. */
export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string;
  private readonly fetchFn: FetchFunction;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.token = options.token;
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Reads the daemon's status, including why it rejected its config file. */
  status(): Promise<DaemonStatus> {
    return this.request('GET', '/v1/status');
  }

  listTunnels(): Promise<TunnelStatus[]> {
    return this.request('GET', '/v1/tunnels');
  }

  /** Reads the tunnel's traffic of the last five minutes; a daemon without the route returns 404. */
  tunnelTraffic(name: string): Promise<TrafficHistorySnapshot> {
    return this.request('GET', `/v1/tunnels/${encodeURIComponent(name)}/traffic`);
  }

  tunnelAction(name: string, action: TunnelAction): Promise<TunnelStatus> {
    return this.request('POST', `/v1/tunnels/${encodeURIComponent(name)}/${action}`);
  }

  groupAction(group: string, action: GroupAction): Promise<TunnelStatus[]> {
    return this.request('POST', `/v1/groups/${encodeURIComponent(group)}/${action}`);
  }

  listProfiles(): Promise<Profile[]> {
    return this.request('GET', '/v1/profiles');
  }

  createProfile(profile: unknown): Promise<Profile> {
    return this.request('POST', '/v1/profiles', profile);
  }

  /** Replaces the profile stored as `name`; the body may carry a new name to rename it. */
  updateProfile(name: string, profile: unknown): Promise<Profile> {
    return this.request('PUT', `/v1/profiles/${encodeURIComponent(name)}`, profile);
  }

  deleteProfile(name: string): Promise<void> {
    return this.request('DELETE', `/v1/profiles/${encodeURIComponent(name)}`);
  }

  listTargets(query: TargetQuery): Promise<ManagedTarget[]> {
    const params = new URLSearchParams({ region: query.region });
    if (query.endpoint) params.set('endpoint', query.endpoint);
    if (query.awsProfile) params.set('awsProfile', query.awsProfile);
    return this.request('GET', `/v1/targets?${params.toString()}`);
  }

  /** Lists the pending MFA code requests, oldest first. */
  listMfaRequests(): Promise<MfaRequest[]> {
    return this.request('GET', '/v1/mfa');
  }

  /**
   * Sends `code` for the MFA request `id`. Rejects with status 400 (ERR_INVALID_MFA_CODE) unless
   * the code is six digits, and 404 (ERR_MFA_REQUEST_NOT_FOUND) once the request has settled.
   */
  answerMfaRequest(id: string, code: string): Promise<{ answered: MfaRequest }> {
    return this.request('POST', `/v1/mfa/${encodeURIComponent(id)}`, { code });
  }

  /** Builds the events websocket URL; the token travels as a subprotocol, not in the URL. */
  eventsUrl(pageOrigin?: string): string {
    const origin = this.baseUrl || pageOrigin || '';
    return `${origin.replace(/^http/, 'ws')}/v1/events`;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      // The body can fail mid-way too, e.g. when the daemon stops while it is sending.
      text = await response.text();
    } catch (error) {
      const detail = controller.signal.aborted
        ? `timed out after ${this.timeoutMs} ms`
        : (error as Error).message;
      throw new ApiError(0, ERR_DAEMON_UNREACHABLE, `The daemon is unreachable: ${detail}.`);
    } finally {
      clearTimeout(timer);
    }
    const parsed = text ? parseJson(text) : undefined;
    if (!response.ok) throw toApiError(response.status, parsed, text);
    return parsed as T;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Converts an error body `{ error: { code, message, fields } }` into an ApiError. */
function toApiError(status: number, body: unknown, text: string): ApiError {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (error && typeof error === 'object') {
    const { code, message, fields } = error as Record<string, unknown>;
    return new ApiError(
      status,
      typeof code === 'string' ? code : `HTTP_${status}`,
      typeof message === 'string' ? message : `The daemon returned HTTP ${status}.`,
      Array.isArray(fields) ? fields.filter(isFieldError) : [],
    );
  }
  // fastify's own errors (404 route, 413 body) use a flat { statusCode, code, message } body.
  const flat = body as { code?: unknown; message?: unknown } | undefined;
  const message =
    typeof flat?.message === 'string' ? flat.message : text.slice(0, 200) || `HTTP ${status}`;
  const code = typeof flat?.code === 'string' ? flat.code : `HTTP_${status}`;
  return new ApiError(status, code, message);
}

function isFieldError(value: unknown): value is FieldError {
  const field = value as FieldError | null;
  return typeof field?.path === 'string' && typeof field.message === 'string';
}
