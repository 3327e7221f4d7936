// Finds the running daemon through its state directory and keeps the tray's view of the
// tunnels current through the REST API and the events websocket.

import { EventEmitter } from 'node:events';
import { readStateFile } from '../../daemon/state-file.js';
import { ApiClient, type FetchFunction } from '../../ui/src/lib/api.js';
import { EventStream, type WebSocketFactory } from '../../ui/src/lib/events.js';
import type { MfaRequest, TunnelStatus } from '../../ui/src/lib/types.js';
import { msUntilLabelChange } from './retry-label.js';

/** Address and credentials of a running daemon's control API. */
export interface DaemonEndpoint {
  port: number;
  token: string;
  /** Process id the daemon wrote next to its port, when present. */
  pid: number | null;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
}

/** Files the daemon writes in its state directory; see daemon/paths.ts. */
export interface DaemonStateFiles {
  /** JSON `{ port, pid }` of the running control API. */
  apiFile: string;
  tokenFile: string;
}

/** Both files are a few bytes; the bound keeps a replaced file from being read whole. */
const MAX_STATE_FILE_BYTES = 64 * 1024;

/**
 * Reads a state file without following a link or blocking on a FIFO, which would stall the
 * tray's discovery loop. A missing file rejects with ENOENT, as fs.readFile does.
 */
async function readSmallStateFile(path: string): Promise<string> {
  const content = readStateFile(path, MAX_STATE_FILE_BYTES);
  if (content === null) {
    throw Object.assign(new Error(`${path} does not exist`), { code: 'ENOENT' });
  }
  return content.text;
}

/**
 * Reads port and token from the state directory. Returns null when either file is missing or
 * malformed, which means no daemon has started yet or one is still starting.
 */
export async function discoverDaemon(
  files: DaemonStateFiles,
  read: (path: string) => Promise<string> = readSmallStateFile,
): Promise<DaemonEndpoint | null> {
  let apiText: string;
  let token: string;
  try {
    [apiText, token] = await Promise.all([read(files.apiFile), read(files.tokenFile)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let api: { port?: unknown; pid?: unknown };
  try {
    api = JSON.parse(apiText) as typeof api;
  } catch {
    return null;
  }
  const port = api.port;
  token = token.trim();
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 || !token) {
    return null;
  }
  const pid = typeof api.pid === 'number' ? api.pid : null;
  return { port, token, pid, url: `http://127.0.0.1:${port}` };
}

export interface DaemonClientOptions {
  discover: () => Promise<DaemonEndpoint | null>;
  createSocket: WebSocketFactory;
  fetch?: FetchFunction;
  /** Delay between attempts to find and reach the daemon while it is unreachable. */
  retryIntervalMs?: number;
}

/** Margin after a countdown's whole-second boundary, so the rebuilt label shows the new number. */
const COUNTDOWN_TICK_MARGIN_MS = 20;

/**
 * Tracks the daemon for the tray. Events:
 * - `tunnels` (TunnelStatus[]): the full list after every change, and again each time a retry
 *   countdown (see retry-label.ts) reaches a new whole second, so a menu rebuilt from it stays
 *   current.
 * - `state` (TunnelStatus): one tunnel changed, for notifications.
 * - `removed` (string): the daemon removed the tunnel of a deleted profile.
 * - `reachable` (boolean, DaemonEndpoint | null): the daemon came or went.
 * - `mfa-requests` (MfaRequest[]): the full list of pending MFA requests, after connecting,
 *   after the events websocket reopens, and (empty) when the daemon goes away.
 * - `mfa-required` (MfaRequest) and `mfa-settled` (MfaRequest, outcome): one request came or
 *   went.
 *
 * Port and token are read again on every attempt, because a restarted daemon may have both new.
 */
export class DaemonClient extends EventEmitter {
  private readonly options: Required<Omit<DaemonClientOptions, 'fetch'>> &
    Pick<DaemonClientOptions, 'fetch'>;
  private readonly tunnels = new Map<string, TunnelStatus>();
  private stream: EventStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private countdownTimer: NodeJS.Timeout | null = null;
  /** Number of events received, to order removals against a list request in flight. */
  private eventCount = 0;
  /**
   * Names of tunnels removed by an event while a list request was in flight, with the
   * eventCount of that event.
   */
  private readonly removedAt = new Map<string, number>();
  private listRequestsInFlight = 0;
  private running = false;
  endpoint: DaemonEndpoint | null = null;
  api: ApiClient | null = null;

  constructor(options: DaemonClientOptions) {
    super();
    this.options = { retryIntervalMs: 2_000, ...options };
  }

  get reachable(): boolean {
    return this.api !== null;
  }

  list(): TunnelStatus[] {
    return [...this.tunnels.values()];
  }

  start(): void {
    this.running = true;
    void this.attempt();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.clearCountdownTimer();
    this.stream?.stop();
    this.stream = null;
  }

  /** Runs one discovery and connection attempt now instead of at the next retry. */
  retryNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.attempt();
  }

  private async attempt(): Promise<void> {
    if (!this.running || this.api) return;
    try {
      const endpoint = await this.options.discover();
      if (endpoint) {
        const api = new ApiClient({
          baseUrl: endpoint.url,
          token: endpoint.token,
          fetch: this.options.fetch,
        });
        const list = await api.listTunnels();
        if (!this.running) return;
        this.connected(endpoint, api, list);
        return;
      }
    } catch {
      // Unreachable or rejected: the daemon may be starting or gone; try again later.
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.attempt();
    }, this.options.retryIntervalMs);
    this.timer.unref();
  }

  private connected(endpoint: DaemonEndpoint, api: ApiClient, list: TunnelStatus[]): void {
    this.endpoint = endpoint;
    this.api = api;
    this.replaceAll(list);
    this.emit('reachable', true, endpoint);
    const stream = new EventStream({
      url: api.eventsUrl(),
      token: endpoint.token,
      createSocket: this.options.createSocket,
      onEvent: (event) => {
        this.eventCount += 1;
        if (event.type === 'removed') {
          this.removed(event.name);
          return;
        }
        if (event.type === 'mfa-required') {
          this.emit('mfa-required', event.request);
          return;
        }
        if (event.type === 'mfa-settled') {
          this.emit('mfa-settled', event.request, event.outcome);
          return;
        }
        if (event.type !== 'state') return;
        // A state event after a removal means the profile was added again.
        this.removedAt.delete(event.tunnel.name);
        this.tunnels.set(event.tunnel.name, event.tunnel);
        this.emit('state', event.tunnel);
        this.emitTunnels();
      },
      onStatus: (status) => {
        if (status === 'open') void this.resync(api);
        // One lost websocket means the daemon may have restarted on another port, so go back
        // to discovery instead of retrying the old address.
        if (status === 'closed' && this.stream === stream) this.disconnected();
      },
    });
    this.stream = stream;
    stream.start();
  }

  private async resync(api: ApiClient): Promise<void> {
    const eventCountBefore = this.eventCount;
    this.listRequestsInFlight += 1;
    try {
      const list = await api.listTunnels();
      if (this.api === api) this.replaceAll(this.withoutRemovedSince(list, eventCountBefore));
    } catch {
      // The stream's close event handles a daemon that went away.
    } finally {
      this.listRequestsInFlight -= 1;
      if (this.listRequestsInFlight === 0) this.removedAt.clear();
    }
    await this.loadMfaRequests(api);
  }

  /**
   * Reads the pending MFA requests once the websocket is open, so none that arrived before the
   * subscription is missed. The event stream also sends them on connect, so a failure here
   * only loses the duplicate.
   */
  private async loadMfaRequests(api: ApiClient): Promise<void> {
    let requests: MfaRequest[];
    try {
      requests = await api.listMfaRequests();
    } catch {
      // A daemon older than the MFA routes returns 404; the stream's close handles the rest.
      return;
    }
    if (this.api === api) this.emit('mfa-requests', requests);
  }

  /**
   * Drops the tunnels that a `removed` event deleted after `eventCountBefore`, because a list
   * requested before that event may still contain them.
   * NOTE: no test yet drives a removal into the window of an open list request.
   */
  private withoutRemovedSince(list: TunnelStatus[], eventCountBefore: number): TunnelStatus[] {
    return list.filter((tunnel) => {
      const removedAt = this.removedAt.get(tunnel.name);
      return removedAt === undefined || removedAt <= eventCountBefore;
    });
  }

  private removed(name: string): void {
    if (this.listRequestsInFlight > 0) this.removedAt.set(name, this.eventCount);
    if (!this.tunnels.delete(name)) return;
    this.emit('removed', name);
    this.emitTunnels();
  }

  private replaceAll(list: TunnelStatus[]): void {
    this.tunnels.clear();
    for (const tunnel of list) this.tunnels.set(tunnel.name, tunnel);
    this.emitTunnels();
  }

  /** Emits `tunnels` and schedules the next emit for a running retry countdown. */
  private emitTunnels(): void {
    this.clearCountdownTimer();
    const list = this.list();
    this.emit('tunnels', list);
    const delayMs = this.running ? msUntilLabelChange(list, Date.now()) : null;
    if (delayMs === null) return;
    this.countdownTimer = setTimeout(() => {
      this.countdownTimer = null;
      this.emitTunnels();
    }, delayMs + COUNTDOWN_TICK_MARGIN_MS);
    this.countdownTimer.unref();
  }

  private clearCountdownTimer(): void {
    if (this.countdownTimer) clearTimeout(this.countdownTimer);
    this.countdownTimer = null;
  }

  private disconnected(): void {
    const stream = this.stream;
    this.stream = null;
    this.api = null;
    this.endpoint = null;
    stream?.stop();
    this.tunnels.clear();
    this.removedAt.clear();
    this.emit('reachable', false, null);
    this.emitTunnels();
    this.emit('mfa-requests', []);
    this.scheduleRetry();
  }
}
