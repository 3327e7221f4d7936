// A repeating asynchronous check, used by tunnels to poll credentials while they need a login
// and to re-resolve tag targets while sessions are open.

/**
 * Runs `check` every `intervalMs` milliseconds between `start()` and `stop()`. A run that is
 * still pending when the next one is due makes that one skip, so a slow AWS call never piles
 * up. The timer is unref()ed and never keeps the process alive.
 */
export class IntervalCheck {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly intervalMs: number,
    private readonly check: () => Promise<void>,
  ) {}

  get active(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer) {
      return;
    }
    this.timer = setInterval(() => this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private runOnce(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.check()
      .catch(() => {
        // The check reports its own outcome; a rejection only means "try again next time".
      })
      .finally(() => {
        this.running = false;
      });
  }
}
