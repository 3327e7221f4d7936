import type { DaemonProblem } from '../lib/daemon-problem.js';

/** Shows a full-width alert while the page has no live data from the daemon. */
export function Banner({ problem }: { problem: DaemonProblem }) {
  return (
    <div class="banner" role="alert" data-testid="unreachable-banner" data-problem={problem.kind}>
      <strong>{problem.title}</strong> {problem.detail} {problem.hint}
    </div>
  );
}
