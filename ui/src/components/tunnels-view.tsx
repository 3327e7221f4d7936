import { useState } from 'preact/hooks';
import { ApiError } from '../lib/api.js';
import { groupTunnels, UNGROUPED } from '../lib/grouping.js';
import { isActionErrorSettled, type ActionError } from '../lib/action-error.js';
import { isDaemonLost } from '../lib/daemon-problem.js';
import { retryCountdown } from '../lib/retry.js';
import type { TunnelState } from '../lib/types.js';
import { useClock } from '../use-clock.js';
import type { DaemonConnection } from '../use-daemon.js';
import { TunnelRow } from './tunnel-row.js';

/** Lists all tunnels, one section per group, with Start all and Stop all per group. */
export function TunnelsView({ daemon }: { daemon: DaemonConnection }) {
  const [actionError, setActionError] = useState<ActionError | null>(null);
  const counting = daemon.tunnels.some((tunnel) => retryCountdown(tunnel, Date.now()) !== null);
  // A countdown changes every second, but the traffic chart only moves by 5 s buckets.
  const nowMs = useClock(counting ? 1_000 : 5_000);
  const daemonLost = isDaemonLost(daemon.problem);
  const groups = groupTunnels(daemon.tunnels);
  const shownError =
    actionError && !isActionErrorSettled(actionError, daemon.tunnels) ? actionError : null;

  const run = async (names: string[], turnsOn: boolean, action: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await action();
    } catch (error) {
      daemon.reportError(error);
      if (error instanceof ApiError && error.status !== 0) {
        const statesAtFailure = new Map<string, TunnelState>();
        for (const tunnel of daemon.tunnels) {
          if (names.includes(tunnel.name)) statesAtFailure.set(tunnel.name, tunnel.state);
        }
        setActionError({ message: error.message, turnsOn, statesAtFailure });
      }
    }
  };

  const groupAction = (group: string, action: 'start' | 'stop') => {
    const names = daemon.tunnels
      .filter((tunnel) => tunnel.groups.includes(group))
      .map((tunnel) => tunnel.name);
    return run(names, action === 'start', () =>
      daemon.requestStatuses(() => daemon.api.groupAction(group, action)),
    );
  };

  const tunnelAction = (name: string, action: 'start' | 'stop' | 'restart') =>
    run([name], action !== 'stop', () =>
      daemon.requestStatuses(() => daemon.api.tunnelAction(name, action)),
    );

  if (daemon.tunnels.length === 0) {
    return (
      <section class="empty">
        <h2>No tunnels yet</h2>
        <p>
          Create a profile in the Profiles view, or run{' '}
          <code>bastionless add NAME --target i-0123456789abcdef0 --remote-port 5432</code>.
        </p>
      </section>
    );
  }

  return (
    <div class="tunnels">
      {shownError && (
        <p class="error-text" role="alert" data-testid="action-error">
          {shownError.message}
        </p>
      )}
      {groups.map((group) => {
        const title = group.name ?? UNGROUPED;
        return (
          <section class="group" key={title} aria-labelledby={`group-${title}`}>
            <div class="group-head">
              <h2 id={`group-${title}`}>{title}</h2>
              {group.name !== null && (
                <div class="group-actions">
                  <button
                    type="button"
                    disabled={daemonLost}
                    onClick={() => groupAction(group.name!, 'start')}
                  >
                    Start all
                  </button>
                  <button
                    type="button"
                    disabled={daemonLost}
                    onClick={() => groupAction(group.name!, 'stop')}
                  >
                    Stop all
                  </button>
                </div>
              )}
            </div>
            {group.tunnels.map((tunnel) => (
              <TunnelRow
                key={`${title}/${tunnel.name}`}
                tunnel={tunnel}
                samples={daemon.history.samples(tunnel.name)}
                nowMs={nowMs}
                daemonLost={daemonLost}
                onAction={(action) => tunnelAction(tunnel.name, action)}
              />
            ))}
          </section>
        );
      })}
    </div>
  );
}
