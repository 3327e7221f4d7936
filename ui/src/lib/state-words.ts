import type { TunnelState, TunnelStatus } from './types.js';

/** Visual tone of a state, mapped to colors by the stylesheet and to icons by the tray. */
export type StateTone = 'idle' | 'ok' | 'busy' | 'warn' | 'error' | 'unknown';

export interface StateDescription {
  /** Short label for a badge or a menu item, e.g. "Open". */
  label: string;
  tone: StateTone;
  /**
   * One sentence for the user, including the daemon's reason when it gives one. It leaves out
   * the label, because the badge shows the label next to it.
   */
  sentence: string;
}

// The badge shows the label next to the sentence, so no sentence repeats its state's label.
const STATE_WORDS: Record<TunnelState, { label: string; tone: StateTone; sentence: string }> = {
  stopped: { label: 'Stopped', tone: 'idle', sentence: 'The local port is closed.' },
  listening: {
    label: 'Listening',
    tone: 'ok',
    sentence: 'A session opens on the first connection.',
  },
  connecting: { label: 'Connecting', tone: 'busy', sentence: 'Opening a Session Manager session.' },
  open: { label: 'Open', tone: 'ok', sentence: 'Connections are forwarded.' },
  reconnecting: {
    label: 'Reconnecting',
    tone: 'warn',
    sentence: 'The websocket dropped and the daemon is resuming the session.',
  },
  'needs-login': {
    label: 'Needs login',
    tone: 'error',
    sentence: 'The AWS credentials are missing or expired.',
  },
  failed: { label: 'Failed', tone: 'error', sentence: 'The daemon stopped retrying.' },
};

/** Shown in place of the last known state while the dashboard cannot reach the daemon. */
export const UNKNOWN_STATE: Readonly<StateDescription> = Object.freeze({
  label: 'Unknown',
  tone: 'unknown',
  sentence: 'The dashboard cannot reach the daemon.',
});

/**
 * Describes a tunnel's state in plain words, adding the daemon's reason when present. A reason
 * that starts with `lastError`'s message keeps only what it adds, because the row shows that
 * error with its hint.
 */
export function describeState(
  status: Pick<TunnelStatus, 'state' | 'reason'> &
    Partial<Pick<TunnelStatus, 'lastError' | 'openSince' | 'totalConnections' | 'dialFailures'>>,
): StateDescription {
  const refusal = describeRemoteRefusal(status);
  if (refusal) return refusal;
  const words = STATE_WORDS[status.state] ?? {
    label: String(status.state),
    tone: 'warn' as const,
    sentence: `Unknown state "${String(status.state)}".`,
  };
  const reason = withoutNextAttempt(status.reason?.trim() ?? '');
  if (!reason) return { ...words };
  const rest = restAfterError(reason, status.lastError);
  if (rest === null) {
    return { label: words.label, tone: words.tone, sentence: withReason(words.sentence, reason) };
  }
  const base = status.state === 'connecting' ? RETRY_SENTENCE : words.sentence;
  const sentence = rest === '' ? base : `${base} ${rest}`;
  return { label: words.label, tone: words.tone, sentence };
}

/**
 * Describes an open tunnel whose remote host refused a connection during the current open
 * period, or returns null. The status has no time of the last successful connection, so a
 * refusal followed by successful connections still shows here until the tunnel restarts. The
 * words are in the past tense, which stays true in that case.
 */
function describeRemoteRefusal(
  status: Pick<TunnelStatus, 'state'> &
    Partial<Pick<TunnelStatus, 'lastError' | 'openSince' | 'totalConnections' | 'dialFailures'>>,
): StateDescription | null {
  const error = status.lastError;
  if (status.state !== 'open' || error?.code !== 'ERR_REMOTE_REFUSED') return null;
  const erredAt = Date.parse(error.at);
  const openedAt = status.openSince ? Date.parse(status.openSince) : Number.NaN;
  if (!Number.isNaN(erredAt) && !Number.isNaN(openedAt) && erredAt < openedAt) return null;
  const refused = status.dialFailures ?? 0;
  const total = status.totalConnections ?? 0;
  let sentence: string;
  if (refused > 0 && refused >= total) {
    const connections = refused === 1 ? 'the only connection' : `all ${refused} connections`;
    sentence = `The session is open, but the remote host refused ${connections}.`;
  } else if (refused > 0) {
    sentence = `The session is open, but the remote host refused ${refused} of ${total} connections.`;
  } else {
    sentence = 'The session is open, but the remote host refused a connection.';
  }
  return { label: 'Open, remote refused', tone: 'warn', sentence };
}

/**
 * The daemon sets the failed start's message as the reason while it retries, so a connecting
 * tunnel with that reason has failed at least once since it started.
 */
const RETRY_SENTENCE = 'Opening a Session Manager session again after a failed attempt.';

/**
 * The clause of the daemon's retry reason "<message>. Next attempt at <ISO time>; connections are
 * closed at once until a session opens." that the row shows as a countdown from `nextAttemptAt`.
 * A "Retrying now" clause stays, because no countdown shows while a start runs.
 */
const NEXT_ATTEMPT_CLAUSE = /^next attempt at \S+$/i;

/**
 * The daemon's "Next attempt at <ISO time>" clause, followed by the rest of its sentence after a
 * semicolon, or by the end of the reason. The ISO time contains full stops of its own, so only a
 * full stop before a space or the end closes the clause.
 */
const NEXT_ATTEMPT_IN_REASON = /Next attempt at \S+?(?:;\s*|\.(?=\s|$)\s*|$)/i;

/**
 * Removes the next attempt time from a reason, because the row shows it as a countdown from
 * `nextAttemptAt` in the dashboard's own time format. A clause after it becomes its sentence.
 */
function withoutNextAttempt(reason: string): string {
  const match = NEXT_ATTEMPT_IN_REASON.exec(reason);
  if (!match) return reason;
  const before = reason.slice(0, match.index);
  const after = reason.slice(match.index + match[0].length);
  return `${before}${capitalize(after)}`.trim();
}

/** Strips the sentence end, so "Access denied." and "Access denied" compare equal. */
function withoutFinalStop(text: string): string {
  return text.trim().replace(/[.!?]+$/, '');
}

/**
 * Returns what `reason` adds to the last error's message as whole sentences, '' when it adds
 * nothing the row does not show, or null when the reason does not start with that message.
 * The daemon builds the reason of `failed` and `needs-login` as the message and the hint, and
 * during a streak of lasting start failures as the message and the next attempt.
 */
function restAfterError(
  reason: string,
  lastError: TunnelStatus['lastError'] | undefined,
): string | null {
  if (!lastError) return null;
  const message = withoutFinalStop(lastError.message);
  if (message === '' || !reason.startsWith(message)) return null;
  const rest = reason
    .slice(message.length)
    .replace(/^[.!?]*\s*/, '')
    .trim();
  const hint = lastError.hint ? withoutFinalStop(lastError.hint) : '';
  if (rest === '' || (hint !== '' && rest.startsWith(hint))) return '';
  const clauses = withoutFinalStop(rest)
    .split(/;\s*/)
    .filter((clause) => clause !== '' && !NEXT_ATTEMPT_CLAUSE.test(clause));
  return clauses.map((clause) => `${capitalize(clause)}.`).join(' ');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Adds `reason` to a sentence that ends with a full stop. A short phrase goes in brackets. A
 * reason that is a sentence itself, or has brackets, follows as its own sentence, so brackets
 * never nest and no punctuation doubles.
 */
function withReason(sentence: string, reason: string): string {
  // The daemon joins a message and a hint with ". ", which doubles a message's own full stop.
  const cleaned = reason.replace(/(?<!\.)\.\.(?!\.)/g, '.');
  const isSentence = /[()]/.test(cleaned) || /[.!?]$/.test(cleaned) || /[.!?]\s/.test(cleaned);
  if (!isSentence) return `${sentence.replace(/\.$/, '')} (${cleaned}).`;
  return `${sentence} ${capitalize(cleaned)}${/[.!?]$/.test(cleaned) ? '' : '.'}`;
}

/** Returns the row button's action and label: `Start` for a tunnel that is off. */
export function rowAction(state: TunnelState): { action: 'start' | 'restart'; label: string } {
  return isTunnelActive(state)
    ? { action: 'restart', label: 'Restart' }
    : { action: 'start', label: 'Start' };
}

/** Returns true when the tunnel's listener is up, i.e. its toggle should show as on. */
export function isTunnelActive(state: TunnelState): boolean {
  return state !== 'stopped' && state !== 'failed';
}

/**
 * Returns true when the tunnel's last error happened before its current open period began, so
 * the open sessions have since replaced the failed one. The daemon keeps `lastError` until the
 * next start, and showing it as current would alarm the user about a problem that is gone.
 */
export function isErrorBeforeOpen(
  status: Pick<TunnelStatus, 'state' | 'openSince' | 'lastError'>,
): boolean {
  if (!status.lastError || !status.openSince) return false;
  if (status.state !== 'open' && status.state !== 'reconnecting') return false;
  const erredAt = Date.parse(status.lastError.at);
  const openedAt = Date.parse(status.openSince);
  if (Number.isNaN(erredAt) || Number.isNaN(openedAt)) return false;
  return erredAt < openedAt;
}
