import { isTunnelActive } from './state-words.js';
import type { TunnelState, TunnelStatus } from './types.js';

/** A failed start, stop or restart, with the states of its tunnels when it failed. */
export interface ActionError {
  message: string;
  /** True when the action was meant to turn the tunnels on (start or restart). */
  turnsOn: boolean;
  statesAtFailure: Map<string, TunnelState>;
}

/**
 * Returns true once every tunnel of a failed action has since moved to the state the action
 * wanted, for example started from the CLI or the tray, so its error no longer applies.
 */
export function isActionErrorSettled(
  error: ActionError,
  tunnels: readonly TunnelStatus[],
): boolean {
  if (error.statesAtFailure.size === 0) return false;
  return [...error.statesAtFailure].every(([name, stateAtFailure]) => {
    const tunnel = tunnels.find((candidate) => candidate.name === name);
    if (!tunnel) return false;
    return tunnel.state !== stateAtFailure && isTunnelActive(tunnel.state) === error.turnsOn;
  });
}
