// Write batching for websocket peers: `ws` corks and uncorks its socket around each frame,
// so every small frame costs its own writev. An outer cork held until the tick ends keeps
// those inner uncorks from flushing, and a burst of frames leaves in one writev.

import type { Writable } from 'node:stream';

export class TickCork {
  private corked = false;

  constructor(private readonly target: Writable) {}

  /** Corks the target unless already corked in this tick, and uncorks it on process.nextTick. */
  hold(): void {
    if (this.corked) {
      return;
    }
    this.corked = true;
    this.target.cork();
    process.nextTick(() => this.flush());
  }

  /** Uncorks at once, e.g. before the socket is destroyed, which would drop corked writes. */
  flush(): void {
    if (!this.corked) {
      return;
    }
    this.corked = false;
    this.target.uncork();
  }
}
