// Version rules the agent applies to the client's version (amazon-ssm-agent versionutil).

/**
 * Compares dotted versions component by component: numerically where both components are
 * numbers, as text otherwise. When one version is a prefix of the other, the shorter one is
 * smaller. Returns a negative number, zero or a positive number.
 */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.');
  const right = b.split('.');
  const shared = Math.min(left.length, right.length);
  for (let i = 0; i < shared; i++) {
    const x = left[i]!;
    const y = right[i]!;
    const bothNumeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    const order = bothNumeric ? Number(x) - Number(y) : x.localeCompare(y);
    if (order !== 0) {
      return order;
    }
  }
  return left.length - right.length;
}

/** First client version the agent runs smux with. */
export const MIN_MUX_CLIENT_VERSION = '1.1.70';
/** Agents up to this version have basic mode only. */
export const MAX_BASIC_ONLY_AGENT_VERSION = '3.0.196.0';
/** Clients newer than this run smux without keepalive, so the agent turns it off too. */
export const MAX_KEEPALIVE_CLIENT_VERSION = '1.2.331.0';

export interface ModeDecision {
  mode: 'mux' | 'basic';
  smuxKeepAlive: boolean;
}

/** Picks the forwarding mode the agent uses; an empty ClientVersion means basic. */
export function decideMode(clientVersion: string, agentVersion: string): ModeDecision {
  const mux =
    clientVersion !== '' &&
    compareVersions(clientVersion, MIN_MUX_CLIENT_VERSION) >= 0 &&
    compareVersions(agentVersion, MAX_BASIC_ONLY_AGENT_VERSION) > 0;
  return {
    mode: mux ? 'mux' : 'basic',
    smuxKeepAlive: !(compareVersions(clientVersion, MAX_KEEPALIVE_CLIENT_VERSION) > 0),
  };
}
