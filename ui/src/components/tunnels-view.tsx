import { useState } from 'preact/hooks';
import { ApiError } from '../lib/api.js';
import { groupTunnels, UNGROUPED } from '../lib/grouping.js';
import type { DaemonConnection } from '../use-daemon.js';
import { TunnelRow } from './tunnel-row.js';

/** Lists all tunnels, one section per group, with Start all and Stop all per group. */
export function TunnelsView({ daemon }: { daemon: DaemonConnection }) {
  const [actionError, setActionError] = useState<string | null>(null);
  const groups = groupTunnels(daemon.tunnels);

  const run = async (action: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await action();
    } catch (error) {
      daemon.reportError(error);
      if (error instanceof ApiError && error.status !== 0) setActionError(error.message);
    }
  };

  const groupAction = (group: string, action: 'start' | 'stop') =>
    run(async () => {
      const statuses = await daemon.api.groupAction(group, action);
      if (Array.isArray(statuses)) statuses.forEach(daemon.applyStatus);
    });

  const tunnelAction = (name: string, action: 'start' | 'stop' | 'restart') =>
    run(async () => {
      const status = await daemon.api.tunnelAction(name, action);
      if (status && typeof status === 'object') daemon.applyStatus(status);
    });

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
      {actionError && (
        <p class="error-text" role="alert">
          {actionError}
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
                  <button type="button" onClick={() => groupAction(group.name!, 'start')}>
                    Start all
                  </button>
                  <button type="button" onClick={() => groupAction(group.name!, 'stop')}>
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
                onAction={(action) => tunnelAction(tunnel.name, action)}
              />
            ))}
          </section>
        );
      })}
    </div>
  );
}
