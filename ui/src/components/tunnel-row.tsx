import { suggestClientCommand } from '../lib/client-command.js';
import { formatBytes, formatDuration, formatRtt, formatTime } from '../lib/format.js';
import { retryCountdown } from '../lib/retry.js';
import {
  describeState,
  isErrorBeforeOpen,
  isTunnelActive,
  rowAction,
  UNKNOWN_STATE,
} from '../lib/state-words.js';
import type { RateSample } from '../lib/traffic.js';
import type { TunnelStatus } from '../lib/types.js';
import { CopyButton } from './copy-button.js';
import { Sparkline } from './sparkline.js';
import { MessageText } from './message-text.js';

const FORWARDING_WORDS = { mux: 'multiplexed', basic: 'one connection per session' } as const;

/**
 * Time since the tunnel opened, counted from `openSince` on this clock, because `uptimeMs` is
 * only as fresh as the last state event.
 */
function openFor(tunnel: TunnelStatus): string {
  if (!tunnel.openSince) return 'not open';
  const since = Date.parse(tunnel.openSince);
  return formatDuration(Number.isNaN(since) ? tunnel.uptimeMs : Math.max(0, Date.now() - since));
}

/**
 * Returns the round trip to show. While the tunnel reconnects, the daemon still reports the
 * last value measured before the websocket dropped, which is no longer current.
 */
function roundTrip(tunnel: TunnelStatus, daemonLost: boolean): string {
  if (daemonLost) return 'unknown';
  if (tunnel.state === 'reconnecting') return 'unknown until the session resumes';
  return formatRtt(tunnel.rttMs);
}

interface TunnelRowProps {
  tunnel: TunnelStatus;
  samples: readonly RateSample[];
  /** Epoch milliseconds, for the traffic chart and the retry countdown. */
  nowMs: number;
  /**
   * True while the daemon does not respond or rejects the token. The state shown would be a
   * guess then, and the controls could not reach the daemon.
   */
  daemonLost: boolean;
  onAction: (action: 'start' | 'stop' | 'restart') => void;
}

/** Renders one tunnel: toggle, state in words, local address, client command, counters, error. */
export function TunnelRow({ tunnel, samples, nowMs, daemonLost, onAction }: TunnelRowProps) {
  const description = daemonLost ? UNKNOWN_STATE : describeState(tunnel);
  const active = !daemonLost && isTunnelActive(tunnel.state);
  const button = rowAction(tunnel.state);
  const countdown = daemonLost ? null : retryCountdown(tunnel, nowMs);
  const client = suggestClientCommand(tunnel);
  const error = tunnel.lastError;
  const remote = `${tunnel.remoteHost ?? tunnel.target}:${tunnel.remotePort}`;
  const sessions = tunnel.sessionIds.length > 0 ? tunnel.sessionIds.join(', ') : 'none';
  // The daemon reports `reconnecting` only while every session resumes, so all listed sessions
  // are the ones being resumed, and their last round trip predates the outage.
  const resuming = !daemonLost && tunnel.state === 'reconnecting' && tunnel.sessionIds.length > 0;
  return (
    <article
      class={`tunnel tone-${description.tone}`}
      data-tunnel={tunnel.name}
      aria-disabled={daemonLost}
    >
      <div class="tunnel-head">
        <button
          type="button"
          role="switch"
          class={daemonLost ? 'switch switch-unknown' : 'switch'}
          aria-checked={active}
          aria-label={daemonLost ? `Tunnel ${tunnel.name}, state unknown` : `Tunnel ${tunnel.name}`}
          title={daemonLost ? 'State unknown while the daemon does not respond' : undefined}
          disabled={daemonLost}
          onClick={() => onAction(active ? 'stop' : 'start')}
        >
          <span class="switch-knob" aria-hidden="true" />
        </button>
        <h3>{tunnel.name}</h3>
        <span class={`badge tone-${description.tone}`} data-testid="state">
          {description.label}
        </span>
        <button
          type="button"
          class="small"
          data-testid="row-action"
          disabled={daemonLost}
          onClick={() => onAction(button.action)}
        >
          {button.label}
        </button>
      </div>
      <p class="state-sentence" data-testid="state-sentence">
        {description.sentence}
        {countdown && (
          <>
            {' '}
            <strong data-testid="retry-countdown">{countdown}.</strong>
          </>
        )}
      </p>
      <dl class="facts">
        <div>
          <dt>Local address</dt>
          <dd>
            <code data-testid="local-address">{tunnel.localAddress}</code>
            <CopyButton text={tunnel.localAddress} label={`Copy local address of ${tunnel.name}`} />
          </dd>
        </div>
        <div>
          <dt>Remote</dt>
          <dd>
            <code>{remote}</code>
            {tunnel.remoteHost && (
              <span class="via">
                via{' '}
                <code class="long-id" title={tunnel.target} data-testid="via-target">
                  {tunnel.target}
                </code>
              </span>
            )}
          </dd>
        </div>
        {client && (
          <div class="wide">
            <dt>Client command</dt>
            <dd>
              <code data-testid="client-command">{client.command}</code>
              <CopyButton text={client.command} label={`Copy client command of ${tunnel.name}`} />
              <span class="command-basis" data-testid="client-command-basis">
                {client.basis}
              </span>
            </dd>
          </div>
        )}
        <div>
          <dt>Connections</dt>
          <dd data-testid="connections">
            {daemonLost ? (
              <>
                active count <span data-testid="active-connections">unknown</span>
              </>
            ) : (
              <>
                <span data-testid="active-connections">{tunnel.activeConnections}</span> active
              </>
            )}
            , {tunnel.totalConnections} total
            {tunnel.dialFailures > 0 && `, ${tunnel.dialFailures} failed to dial`}
          </dd>
        </div>
        <div>
          <dt>Traffic</dt>
          <dd data-testid="traffic">
            {formatBytes(tunnel.bytesIn)} in, {formatBytes(tunnel.bytesOut)} out
          </dd>
        </div>
        <div class="wide">
          <dt>Last 5 minutes</dt>
          <dd>
            <Sparkline samples={samples} nowMs={nowMs} stale={daemonLost} />
          </dd>
        </div>
        <div>
          <dt>Session</dt>
          <dd>
            <code class="long-id" title={sessions} data-testid="session-id">
              {sessions}
            </code>
            {resuming && (
              <span class="via" data-testid="session-resuming">
                {' '}
                being resumed
              </span>
            )}
          </dd>
        </div>
        <div>
          <dt>Agent version</dt>
          <dd>
            {tunnel.agentVersion ?? 'unknown until a session opens'}
            {tunnel.forwarding && `, ${FORWARDING_WORDS[tunnel.forwarding]}`}
          </dd>
        </div>
        <div>
          <dt>Round trip</dt>
          <dd data-testid="round-trip">{roundTrip(tunnel, daemonLost)}</dd>
        </div>
        <div>
          <dt>Open for</dt>
          <dd>{daemonLost ? 'unknown' : openFor(tunnel)}</dd>
        </div>
        <div>
          <dt title="Times a session's websocket dropped and the daemon began to resume it">
            Websocket drops
          </dt>
          <dd data-testid="websocket-drops">{tunnel.reconnects}</dd>
        </div>
      </dl>
      {error && !daemonLost && isErrorBeforeOpen(tunnel) && (
        <p class="past-error" data-testid="past-error">
          Earlier error at {formatTime(error.at)}, before the tunnel opened: {error.message}{' '}
          <code>{error.code}</code>
        </p>
      )}
      {error && !daemonLost && !isErrorBeforeOpen(tunnel) && (
        <div class="last-error" role="status" data-testid="last-error">
          <p>
            <strong>Last error</strong> at {formatTime(error.at)}:{' '}
            <MessageText text={error.message} /> <code>{error.code}</code>
          </p>
          {error.hint && (
            <p class="hint" data-testid="error-hint">
              <strong>Suggested fix:</strong> <MessageText text={error.hint} />
            </p>
          )}
        </div>
      )}
    </article>
  );
}
