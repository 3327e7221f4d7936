// Version rules of the session-manager-plugin that pick how a port session is carried.
// The agent makes the matching choice from the ClientVersion we report in the handshake.

import { versionGreater } from '../protocol/version.js';
import type { ForwardingMode } from './types.js';

/** Agents newer than this run smux (one stream per connection); older ones use basic mode. */
export const MUX_AFTER_AGENT_VERSION = '3.0.196.0';
/** Agents newer than this turn smux keepalive off; older ones expect a NOP every 10 s. */
export const KEEPALIVE_OFF_AFTER_AGENT_VERSION = '3.1.1511.0';
/** Agents newer than this honour the TerminateSession flag in basic mode. */
export const TERMINATE_FLAG_AFTER_AGENT_VERSION = '2.3.722.0';

export function forwardingModeFor(agentVersion: string): ForwardingMode {
  return versionGreater(agentVersion, MUX_AFTER_AGENT_VERSION) ? 'mux' : 'basic';
}

export function smuxKeepAliveFor(agentVersion: string): boolean {
  return !versionGreater(agentVersion, KEEPALIVE_OFF_AFTER_AGENT_VERSION);
}

/** Mux agents always honour the TerminateSession flag; basic agents only when new enough. */
export function terminateFlagSupported(agentVersion: string, mode: ForwardingMode): boolean {
  return mode === 'mux' || versionGreater(agentVersion, TERMINATE_FLAG_AFTER_AGENT_VERSION);
}
