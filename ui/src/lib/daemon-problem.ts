import { ApiError, ERR_DAEMON_UNREACHABLE } from './api.js';

/** Why the page cannot show live data, as the banner words it. */
export interface DaemonProblem {
  kind: 'unreachable' | 'token-rejected' | 'error';
  title: string;
  detail: string;
  /** What the user can do next. */
  hint: string;
}

/** Classifies a failed request; returns null for errors a form or a row shows itself. */
export function problemFromError(error: unknown): DaemonProblem | null {
  if (!(error instanceof ApiError)) return null;
  if (error.code === ERR_DAEMON_UNREACHABLE) return unreachable(error.message);
  if (error.status === 401) {
    return {
      kind: 'token-rejected',
      title: "The daemon rejected this page's access token.",
      detail: error.message,
      // The daemon writes a new token file on every start.
      hint: 'A restarted daemon has a new token: open the dashboard again with `bastionless dashboard` or from the tray menu.',
    };
  }
  return null;
}

/** Builds the problem shown while the daemon does not respond at all. */
export function unreachable(detail: string): DaemonProblem {
  return {
    kind: 'unreachable',
    title: 'The daemon is unreachable.',
    detail,
    hint: 'The page retries on its own. If the daemon is not running, start it with `bastionless start`.',
  };
}
