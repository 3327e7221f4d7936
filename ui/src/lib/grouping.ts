import type { TunnelStatus } from './types.js';

/** Section heading of tunnels that belong to no group. */
export const UNGROUPED = 'Ungrouped';

export interface TunnelGroup {
  /** Group name, or null for tunnels without a group. */
  name: string | null;
  tunnels: TunnelStatus[];
}

/**
 * Sorts tunnels into their groups: named groups alphabetically, then the ungrouped tunnels,
 * each sorted by name. A tunnel in several groups appears under each of them, so a group's
 * "Start all" acts on exactly the tunnels listed under it.
 */
export function groupTunnels(tunnels: readonly TunnelStatus[]): TunnelGroup[] {
  const byGroup = new Map<string, TunnelStatus[]>();
  const ungrouped: TunnelStatus[] = [];
  for (const tunnel of tunnels) {
    const groups = [...new Set(tunnel.groups)];
    if (groups.length === 0) ungrouped.push(tunnel);
    for (const group of groups) {
      const members = byGroup.get(group) ?? [];
      members.push(tunnel);
      byGroup.set(group, members);
    }
  }
  const byName = (a: TunnelStatus, b: TunnelStatus) => a.name.localeCompare(b.name);
  const result: TunnelGroup[] = [...byGroup.keys()]
    .sort((a, b) => a.localeCompare(b))
    .map((name) => ({ name, tunnels: byGroup.get(name)!.sort(byName) }));
  if (ungrouped.length > 0) result.push({ name: null, tunnels: ungrouped.sort(byName) });
  return result;
}
