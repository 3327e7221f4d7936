import { ApiError, ERR_DAEMON_UNREACHABLE } from './api.js';

/** Why the page cannot show live data, as the banner words it. */
export interface DaemonProblem {
  kind: 'unreachable' | 'token-rejected' | 'error';
  /** One sentence naming the problem. */
  title: string;
  /** What the user can do next. */
  hint: string;
  /** The failed request's own error text, which the banner keeps in its tooltip. */
  detail: string;
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
      hint:
        'The daemon now has another token, so open the dashboard again at the address that ' +
        '`bastionless dashboard` prints, or from the tray menu.',
    };
  }
  return null;
}

/** Builds the problem shown while the daemon does not respond at all. */
export function unreachable(detail: string): DaemonProblem {
  return {
    kind: 'unreachable',
    title: 'The daemon is not running or not reachable.',
    detail,
    // The page keeps retrying its own address. A restarted daemon reuses its port and token,
    // but takes another port when the old one is busy, so the hint also names the command
    // that prints the current address.
    hint:
      'Start it with `bastionless start` and this page reconnects on its own. If it does not, ' +
      'open the dashboard again at the address that `bastionless dashboard` prints.',
  };
}

/** Builds the problem shown when the daemon returns an error for the tunnel list. */
export function listFailed(error: unknown): DaemonProblem {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? ` Error code: ${error.code}.` : '';
  const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
  return {
    kind: 'error',
    title: `Loading the tunnel list failed: ${sentence}${code}`,
    detail: message,
    hint: 'Check the daemon log with `bastionless logs`.',
  };
}

/**
 * Returns true when the daemon does not respond or rejects the token, so the page's tunnel
 * states may be out of date and its actions cannot reach the daemon.
 */
export function isDaemonLost(problem: DaemonProblem | null): boolean {
  return problem?.kind === 'unreachable' || problem?.kind === 'token-rejected';
}
