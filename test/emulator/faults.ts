// Fault injection settings for one session, or defaults for every new session.

/** Probabilities are in [0, 1]; durations in milliseconds. Every field is optional. */
export interface Faults {
  /** Seed of the random generator behind every probability, so a failing run can be replayed. */
  seed?: number;
  /** Close the websocket with 1000 `Bye` once this many stream payload bytes crossed it. */
  closeEveryBytes?: number;
  /** Close the websocket with 1000 `Bye` this long after each open. */
  closeEveryMs?: number;
  /** Which stream-data frames the drop, duplicate, reorder and delay faults act on. */
  frameDirection?: 'to-client' | 'to-agent' | 'both';
  dropProbability?: number;
  /** Narrows `dropProbability` to one direction; default: `frameDirection`. */
  dropDirection?: 'to-client' | 'to-agent' | 'both';
  duplicateProbability?: number;
  /** Probability that a frame is held back and sent after up to `reorderWindow` later frames. */
  reorderProbability?: number;
  reorderWindow?: number;
  delayProbability?: number;
  delayMs?: number;
  /** Probability that an acknowledge from the agent to the client is lost. */
  dropAcksToClientProbability?: number;
  /** Probability that an acknowledge from the client to the agent is lost. */
  dropAcksToAgentProbability?: number;
  /**
   * Send pause_publication `afterMs` after the fault is set (0 when absent), stop the agent
   * for `durationMs`, then send start_publication.
   */
  pausePublication?: { afterMs?: number; durationMs: number };
  /** Reject ResumeSession with this AWS error type, `count` times or for `forMs`. */
  rejectResume?: { errorType: string; message?: string; count?: number; forMs?: number };
  /** Return an empty TokenValue from ResumeSession, which clients read as "timed out". */
  emptyResumeToken?: boolean;
  /** Wait this long before sending the HandshakeRequest. */
  handshakeDelayMs?: number;
  /** Half-open websocket: stop reading, sending and sending pongs. */
  silent?: boolean;
  /** Terminate the session as an administrator would, this long after the fault is set. */
  terminateAfterMs?: number;
}

const PROBABILITY_FIELDS = [
  'dropProbability',
  'duplicateProbability',
  'reorderProbability',
  'delayProbability',
  'dropAcksToClientProbability',
  'dropAcksToAgentProbability',
] as const;

export class FaultsError extends Error {
  override readonly name = 'FaultsError';
  readonly code = 'ERR_INVALID_FAULTS';
}

/** Checks the ranges of a faults object received from a test or the control route. */
export function validateFaults(faults: Faults): Faults {
  if (typeof faults !== 'object' || faults === null) {
    throw new FaultsError('invalid faults: expected an object');
  }
  for (const field of PROBABILITY_FIELDS) {
    const value = faults[field];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1)) {
      throw new FaultsError(`invalid ${field} ${String(value)}: expected a number from 0 to 1`);
    }
  }
  for (const field of ['closeEveryBytes', 'closeEveryMs', 'delayMs', 'reorderWindow'] as const) {
    const value = faults[field];
    if (value !== undefined && !(typeof value === 'number' && value > 0)) {
      throw new FaultsError(`invalid ${field} ${String(value)}: expected a positive number`);
    }
  }
  return faults;
}

/** mulberry32: a small seedable generator, good enough to spread fault decisions. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
