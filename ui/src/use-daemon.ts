import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiClient, ApiError } from './lib/api.js';
import {
  listFailed,
  problemFromError,
  unreachable,
  type DaemonProblem,
} from './lib/daemon-problem.js';
import { describeConfigProblem, type ConfigProblem } from './lib/config-problem.js';
import { EventLedger } from './lib/event-ledger.js';
import { EventStream, type StreamStatus, type WebSocketLike } from './lib/events.js';
import { addMfaRequest, removeMfaRequest, sortOldestFirst } from './lib/mfa.js';
import { TrafficHistory } from './lib/traffic.js';
import type { DaemonEvent, MfaRequest, TunnelStatus } from './lib/types.js';

/**
 * How often the tunnel list is reloaded while the events websocket is down or the daemon does
 * not respond. A suspended daemon keeps the websocket open, and a list request sent while it is
 * suspended gets its reply as soon as it resumes, so the page recovers within this time.
 */
const POLL_WHILE_DISCONNECTED_MS = 5_000;
/**
 * How often the list is reloaded while events arrive. Events carry every change of the state and
 * counters, and this re-read catches up the fields no event carries, such as the round-trip time.
 */
const RESYNC_WHILE_CONNECTED_MS = 10_000;

export interface DaemonConnection {
  api: ApiClient;
  tunnels: TunnelStatus[];
  history: TrafficHistory;
  /** Incremented on every traffic sample, so sparklines re-render. */
  trafficVersion: number;
  streamStatus: StreamStatus;
  /** Pending MFA code requests, oldest first. */
  mfaRequests: MfaRequest[];
  /** Drops a request the page answered, before the daemon's `mfa-settled` event arrives. */
  forgetMfaRequest: (id: string) => void;
  /** Why the page shows no live data, or null while the daemon responds. */
  problem: DaemonProblem | null;
  /** The daemon's rejected config file, or null while the file is valid. */
  configProblem: ConfigProblem | null;
  /**
   * Incremented on each load of the config file the daemon reports, so views that list
   * profiles read them again after an edit made elsewhere, e.g. by the CLI or in an editor.
   */
  configVersion: number;
  /** Sets the banner for an unreachable daemon or a rejected token; other errors are ignored. */
  reportError: (error: unknown) => void;
  refresh: () => Promise<void>;
  /**
   * Sends a request that returns tunnel statuses and shows them, unless events received while
   * the request was in flight are newer.
   */
  requestStatuses: (request: () => Promise<TunnelStatus | TunnelStatus[]>) => Promise<void>;
}

/** Keeps the tunnel list in sync with the daemon through REST and the events websocket. */
export function useDaemon(token: string): DaemonConnection {
  const api = useMemo(() => new ApiClient({ baseUrl: '', token }), [token]);
  const history = useRef(new TrafficHistory()).current;
  const ledger = useRef(new EventLedger()).current;
  /** Tunnels whose chart was seeded from the daemon's traffic history, or is being seeded. */
  const seeded = useRef(new Set<string>()).current;
  /** Count of MFA events, so a pending list fetched before the latest one is not applied. */
  const mfaEvents = useRef(0);
  /** Count of config events, so a status fetched before the latest one is not applied. */
  const configEvents = useRef(0);
  const [tunnels, setTunnels] = useState<Map<string, TunnelStatus>>(new Map());
  const [trafficVersion, setTrafficVersion] = useState(0);
  const [streamStatus, setStreamStatus] = useState<StreamStatus>('connecting');
  const [problem, setProblem] = useState<DaemonProblem | null>(null);
  const [configProblem, setConfigProblem] = useState<ConfigProblem | null>(null);
  const [configVersion, setConfigVersion] = useState(0);
  const [mfaRequests, setMfaRequests] = useState<MfaRequest[]>([]);

  const forgetMfaRequest = useCallback((id: string) => {
    setMfaRequests((current) => removeMfaRequest(current, id));
  }, []);

  const requestStatuses = useCallback(
    async (request: () => Promise<TunnelStatus | TunnelStatus[]>) => {
      const mark = ledger.mark();
      const response = await request();
      const statuses = Array.isArray(response) ? response : [response];
      setTunnels((current) => {
        const updated = new Map(current);
        for (const status of statuses) {
          if (!status || typeof status !== 'object' || typeof status.name !== 'string') continue;
          const merged = ledger.merge(mark, current.get(status.name), status);
          if (merged) updated.set(status.name, merged);
        }
        return updated;
      });
    },
    [ledger],
  );

  const reportError = useCallback((error: unknown) => {
    const found = problemFromError(error);
    if (found) setProblem(found);
  }, []);

  /**
   * Seeds the chart of each listed tunnel seen for the first time with the daemon's last five
   * minutes, so traffic from before the page opened shows. A daemon without the history route
   * returns 404, and that chart then starts empty. Other failures are retried at the next list.
   */
  const seedTraffic = useCallback(
    (names: string[]) => {
      for (const name of names) {
        if (seeded.has(name)) continue;
        seeded.add(name);
        api
          .tunnelTraffic(name)
          .then((snapshot) => {
            if (!seeded.has(name)) return;
            history.seed(snapshot);
            setTrafficVersion((version) => version + 1);
          })
          .catch((error: unknown) => {
            if (!(error instanceof ApiError && error.status === 404)) seeded.delete(name);
          });
      }
    },
    [api, history, seeded],
  );

  const refresh = useCallback(async () => {
    try {
      const mark = ledger.mark();
      const list = await api.listTunnels();
      setTunnels((current) => ledger.mergeList(mark, current, list));
      const now = Date.now();
      for (const tunnel of list) {
        // A traffic event received meanwhile has newer counters than this list.
        if (ledger.hadTrafficSince(mark, tunnel.name)) continue;
        history.record(tunnel.name, tunnel.bytesIn, tunnel.bytesOut, now);
      }
      seedTraffic(list.map((tunnel) => tunnel.name));
      setProblem(null);
      // A failed status request keeps the banner as it is until the next refresh.
      const configEventsBefore = configEvents.current;
      const status = await api.status().catch(() => null);
      if (status && configEvents.current === configEventsBefore) {
        setConfigProblem(describeConfigProblem(status));
      }
      const mfaEventsBefore = mfaEvents.current;
      // A daemon older than the MFA routes returns 404; the prompt then never shows.
      const pending = await api.listMfaRequests().catch(() => null);
      if (pending && mfaEvents.current === mfaEventsBefore) {
        setMfaRequests(sortOldestFirst(pending));
      }
    } catch (error) {
      setProblem(problemFromError(error) ?? listFailed(error));
    }
  }, [api, history, ledger, seedTraffic]);

  const handleEvent = useCallback(
    (event: DaemonEvent) => {
      if (event.type === 'state') {
        ledger.noteState(event.tunnel.name);
        setTunnels((current) => new Map(current).set(event.tunnel.name, event.tunnel));
        return;
      }
      if (event.type === 'removed') {
        ledger.noteRemoved(event.name);
        history.forget(event.name);
        seeded.delete(event.name);
        setTunnels((current) => {
          if (!current.has(event.name)) return current;
          const updated = new Map(current);
          updated.delete(event.name);
          return updated;
        });
        return;
      }
      if (event.type === 'mfa-required') {
        mfaEvents.current += 1;
        setMfaRequests((current) => addMfaRequest(current, event.request));
        return;
      }
      if (event.type === 'mfa-settled') {
        mfaEvents.current += 1;
        setMfaRequests((current) => removeMfaRequest(current, event.request.id));
        return;
      }
      if (event.type === 'config') {
        configEvents.current += 1;
        setConfigProblem(describeConfigProblem(event));
        setConfigVersion((version) => version + 1);
        return;
      }
      ledger.noteTraffic(event.name);
      const at = Date.parse(event.at);
      history.record(event.name, event.bytesIn, event.bytesOut, Number.isNaN(at) ? Date.now() : at);
      setTrafficVersion((version) => version + 1);
      setTunnels((current) => {
        const tunnel = current.get(event.name);
        if (!tunnel) return current;
        const updated = { ...tunnel, bytesIn: event.bytesIn, bytesOut: event.bytesOut };
        return new Map(current).set(event.name, updated);
      });
    },
    [history, ledger, seeded],
  );

  useEffect(() => {
    void refresh();
    const stream = new EventStream({
      url: api.eventsUrl(location.origin),
      token,
      // The DOM typings declare handlers with a `this` parameter, which the shared interface omits.
      createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
      onEvent: handleEvent,
      onStatus: (status, detail) => {
        setStreamStatus(status);
        if (status === 'open') {
          // Events missed while disconnected are gone, so reload the full list once.
          void refresh();
        } else if (status === 'closed' && detail !== 'stopped') {
          // A closed stream alone may be a restart in progress; the next list request tells
          // an unreachable daemon from a rejected token, so only set the banner when none shows.
          setProblem(
            (current) =>
              current ?? unreachable(`The live connection closed (${detail ?? 'no reason'}).`),
          );
          void refresh();
        }
      },
    });
    stream.start();
    return () => stream.stop();
  }, [api, token, refresh, handleEvent]);

  const unreachableNow = problem?.kind === 'unreachable';
  useEffect(() => {
    const live = streamStatus === 'open' && !unreachableNow;
    const interval = live ? RESYNC_WHILE_CONNECTED_MS : POLL_WHILE_DISCONNECTED_MS;
    const timer = setInterval(() => void refresh(), interval);
    return () => clearInterval(timer);
  }, [streamStatus, unreachableNow, refresh]);

  const list = useMemo(() => [...tunnels.values()], [tunnels]);
  return {
    api,
    tunnels: list,
    history,
    trafficVersion,
    streamStatus,
    mfaRequests,
    forgetMfaRequest,
    problem,
    configProblem,
    configVersion,
    reportError,
    refresh,
    requestStatuses,
  };
}
