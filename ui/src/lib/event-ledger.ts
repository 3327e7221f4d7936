import type { TunnelStatus } from './types.js';

/** Event counts per tunnel at the moment a REST request was sent. */
export interface LedgerMark {
  readonly states: ReadonlyMap<string, number>;
  readonly traffic: ReadonlyMap<string, number>;
}

/**
 * Counts the `state` and `traffic` events of each tunnel, so a REST response can be merged
 * with the events that arrived while its request was in flight. The daemon builds a response
 * before the page reads it, and the events websocket does not wait for it, so a late list can
 * carry an older connection count or state than an event the page has already shown.
 *
 * The merge relies on the daemon sending a `state` event for every change of the state,
 * reason, sessions, connection counters and last error, and a `traffic` event for byte counts.
 * Given that, an event that arrived during the request is at least as new as the response for
 * the fields it carries.
 */
export class EventLedger {
  private readonly states = new Map<string, number>();
  private readonly traffic = new Map<string, number>();

  noteState(name: string): void {
    this.states.set(name, (this.states.get(name) ?? 0) + 1);
  }

  /** Counts a removal as a state change, so a list fetched before it cannot bring the tunnel back. */
  noteRemoved(name: string): void {
    this.noteState(name);
  }

  noteTraffic(name: string): void {
    this.traffic.set(name, (this.traffic.get(name) ?? 0) + 1);
  }

  /** Records the counts before a request; pass the mark to `merge` with its response. */
  mark(): LedgerMark {
    return { states: new Map(this.states), traffic: new Map(this.traffic) };
  }

  hadStateSince(mark: LedgerMark, name: string): boolean {
    return (this.states.get(name) ?? 0) !== (mark.states.get(name) ?? 0);
  }

  hadTrafficSince(mark: LedgerMark, name: string): boolean {
    return (this.traffic.get(name) ?? 0) !== (mark.traffic.get(name) ?? 0);
  }

  /**
   * Returns the status to show for `fetched`, a tunnel of the response to the request at `mark`.
   * After a state event meanwhile that is the page's `current` status, and undefined when the
   * page no longer has the tunnel, because a `removed` event dropped it. After traffic events
   * only, it is `fetched` with the current byte counts, and otherwise `fetched` itself.
   */
  merge(
    mark: LedgerMark,
    current: TunnelStatus | undefined,
    fetched: TunnelStatus,
  ): TunnelStatus | undefined {
    if (this.hadStateSince(mark, fetched.name)) {
      return current;
    }
    if (!current) {
      return fetched;
    }
    if (this.hadTrafficSince(mark, fetched.name)) {
      return { ...fetched, bytesIn: current.bytesIn, bytesOut: current.bytesOut };
    }
    return fetched;
  }

  /**
   * Builds the tunnel map from a full list fetched at `mark`. Tunnels missing from the list are
   * dropped, because their profile was deleted, unless a state event announced them meanwhile.
   */
  mergeList(
    mark: LedgerMark,
    current: ReadonlyMap<string, TunnelStatus>,
    list: readonly TunnelStatus[],
  ): Map<string, TunnelStatus> {
    const merged = new Map<string, TunnelStatus>();
    for (const fetched of list) {
      const status = this.merge(mark, current.get(fetched.name), fetched);
      if (status) merged.set(fetched.name, status);
    }
    for (const [name, status] of current) {
      if (!merged.has(name) && this.hadStateSince(mark, name)) {
        merged.set(name, status);
      }
    }
    return merged;
  }
}
