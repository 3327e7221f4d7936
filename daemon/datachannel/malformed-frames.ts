// Bookkeeping of malformed frames and payloads from the service: counts per error code for
// one channel, rate-limited log lines, and totals over every channel of the process.

import type { MessageDecodeError } from '../protocol/message.js';
import type { PayloadError } from '../protocol/payloads.js';

/** The logger methods the data channel uses; a pino logger fits. */
export interface DataChannelLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Minimum time between two log lines that count repeated malformed frames. */
export const REPEAT_LOG_INTERVAL_MS = 60_000;

/** Counters over every data channel of this process, for the metrics endpoint. */
export interface DataChannelTotals {
  /** Malformed frames and payloads dropped, by error code. */
  malformedFrames: Map<string, number>;
  droppedMessages: number;
  stalls: number;
}

// NOTE: these totals are per process, so two daemons started in one process (as in some
// tests) share them.
const totals: DataChannelTotals = { malformedFrames: new Map(), droppedMessages: 0, stalls: 0 };

/** Returns the live totals over every data channel of this process. */
export function dataChannelTotals(): Readonly<DataChannelTotals> {
  return totals;
}

/** Adds to the process totals of dropped messages or stalls. */
export function addToTotals(field: 'droppedMessages' | 'stalls', amount = 1): void {
  totals[field] += amount;
}

interface CodeRecord {
  count: number;
  firstMessage: string;
}

/**
 * Malformed frames of one channel. The first frame of each error code is logged with its
 * details. Later ones are counted and logged as one line at most every
 * `REPEAT_LOG_INTERVAL_MS`, and once more by `flush()` when the channel ends.
 */
export class MalformedFrameLog {
  private readonly byCode = new Map<string, CodeRecord>();
  private unloggedRepeats = 0;
  private lastRepeatLogMs = 0;

  constructor(
    private readonly sessionId: string,
    private readonly logger: DataChannelLogger | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get total(): number {
    let sum = 0;
    for (const record of this.byCode.values()) {
      sum += record.count;
    }
    return sum;
  }

  record(error: MessageDecodeError | PayloadError): void {
    totals.malformedFrames.set(error.code, (totals.malformedFrames.get(error.code) ?? 0) + 1);
    const record = this.byCode.get(error.code);
    if (record === undefined) {
      this.byCode.set(error.code, { count: 1, firstMessage: error.message });
      this.logger?.warn(
        { sessionId: this.sessionId, code: error.code, error: error.message },
        'dropped a malformed frame from the Session Manager service',
      );
      return;
    }
    record.count += 1;
    this.unloggedRepeats += 1;
    if (this.now() - this.lastRepeatLogMs >= REPEAT_LOG_INTERVAL_MS) {
      this.logRepeats();
    }
  }

  /** Logs the repeats not logged yet, for example when the channel ends. */
  flush(): void {
    if (this.unloggedRepeats > 0) {
      this.logRepeats();
    }
  }

  /**
   * Describes the malformed frames for an error message, for example
   * "2 malformed frames from the service (ERR_DIGEST_MISMATCH x2: payload digest mismatch)",
   * or returns null when there were none.
   */
  summary(): string | null {
    if (this.byCode.size === 0) {
      return null;
    }
    const parts = [...this.byCode].map(
      ([code, record]) => `${code} x${record.count}: ${record.firstMessage}`,
    );
    const total = this.total;
    return `${total} malformed frame${total === 1 ? '' : 's'} from the service (${parts.join('; ')})`;
  }

  private logRepeats(): void {
    const counts = Object.fromEntries(
      [...this.byCode].map(([code, record]) => [code, record.count]),
    );
    this.logger?.warn(
      { sessionId: this.sessionId, repeats: this.unloggedRepeats, counts },
      `dropped ${this.unloggedRepeats} more malformed frames from the Session Manager service`,
    );
    this.unloggedRepeats = 0;
    this.lastRepeatLogMs = this.now();
  }
}
