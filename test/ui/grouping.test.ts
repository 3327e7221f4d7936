import { describe, expect, it } from 'vitest';
import { groupTunnels } from '../../ui/src/lib/grouping.js';
import { tunnelStatus } from './fixtures.js';

describe('groupTunnels', () => {
  it('sorts groups, then ungrouped, each by name', () => {
    const groups = groupTunnels([
      tunnelStatus({ name: 'z-free' }),
      tunnelStatus({ name: 'web', groups: ['prod'] }),
      tunnelStatus({ name: 'cache', groups: ['dev'] }),
      tunnelStatus({ name: 'db', groups: ['prod'] }),
      tunnelStatus({ name: 'a-free' }),
    ]);
    expect(groups.map((group) => group.name)).toEqual(['dev', 'prod', null]);
    expect(groups[1].tunnels.map((tunnel) => tunnel.name)).toEqual(['db', 'web']);
    expect(groups[2].tunnels.map((tunnel) => tunnel.name)).toEqual(['a-free', 'z-free']);
  });

  it('lists a tunnel under each of its groups once', () => {
    const groups = groupTunnels([tunnelStatus({ name: 'db', groups: ['b', 'a', 'b'] })]);
    expect(groups.map((group) => group.name)).toEqual(['a', 'b']);
    expect(groups[1].tunnels).toHaveLength(1);
  });

  it('returns nothing for no tunnels', () => {
    expect(groupTunnels([])).toEqual([]);
  });
});
