import type { DaemonProblem } from '../lib/daemon-problem.js';
import { MessageText } from './message-text.js';

/**
 * Shows a full-width alert while the page has no live data from the daemon. It names the
 * problem and the next step once each, and keeps the request's own error text in the tooltip.
 */
export function Banner({ problem }: { problem: DaemonProblem }) {
  return (
    <div
      class="banner"
      role="alert"
      data-testid="unreachable-banner"
      data-problem={problem.kind}
      title={problem.detail}
    >
      <strong>{problem.title}</strong> <MessageText text={problem.hint} />
    </div>
  );
}
