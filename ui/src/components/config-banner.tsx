import type { ConfigProblem } from '../lib/config-problem.js';
import { MessageText } from './message-text.js';

/**
 * Shows the daemon's rejected config file above both views, because their profile lists then
 * show what the daemon kept, not what the file contains.
 */
export function ConfigBanner({ problem }: { problem: ConfigProblem }) {
  return (
    <div class="banner" role="alert" data-testid="config-banner">
      <p>
        <strong>{problem.title}</strong> <MessageText text={problem.problem} />
      </p>
      {problem.details.length > 0 && (
        <ul class="config-fields" data-testid="config-fields">
          {problem.details.map((line) => (
            <li key={line}>
              <MessageText text={line} />
            </li>
          ))}
        </ul>
      )}
      {problem.fix && (
        <p data-testid="config-fix">
          <strong>Next step:</strong> <MessageText text={problem.fix} />
        </p>
      )}
      <p data-testid="config-consequence">{problem.consequence}</p>
    </div>
  );
}
