import { ApiError, ERR_DAEMON_UNREACHABLE } from './api.js';
import type { StreamStatus } from './events.js';

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
    title: 'The daemon does not respond.',
    detail,
    // Requests to a suspended (SIGSTOP, a sleeping laptop) or hung daemon time out, and the
    // page reports that like a daemon that is not running. `status` distinguishes them and
    // names the fix. A restarted daemon reuses its port and token, but takes another port when
    // the old one is busy, so the hint also names the command that prints the current address.
    hint:
      'It may not be running, or it may be suspended or hung: `bastionless status` says which ' +
      'and what to do. This page reconnects on its own once the daemon responds. If it does ' +
      'not, open the dashboard again at the address that `bastionless dashboard` prints.',
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

/** Label and style of the connection dot in the page header. */
export interface ConnectionIndicator {
  /** CSS suffix: `open` is the green dot, the others the hollow one. */
  tone: 'open' | 'connecting' | 'lost';
  label: 'Live' | 'Connecting' | 'Offline' | 'Unreachable' | 'Token rejected';
}

/**
 * Chooses the header dot. A suspended daemon keeps the events websocket open without sending
 * anything, so an open stream counts as live only while the daemon also responds to requests.
 */
export function connectionIndicator(
  streamStatus: StreamStatus,
  problem: DaemonProblem | null,
): ConnectionIndicator {
  if (problem?.kind === 'unreachable') return { tone: 'lost', label: 'Unreachable' };
  if (problem?.kind === 'token-rejected') return { tone: 'lost', label: 'Token rejected' };
  if (streamStatus === 'open') return { tone: 'open', label: 'Live' };
  return streamStatus === 'connecting'
    ? { tone: 'connecting', label: 'Connecting' }
    : { tone: 'lost', label: 'Offline' };
}
