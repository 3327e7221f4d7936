import type { TunnelState, TunnelStatus } from './types.js';

/** Visual tone of a state, mapped to colors by the stylesheet and to icons by the tray. */
export type StateTone = 'idle' | 'ok' | 'busy' | 'warn' | 'error';

export interface StateDescription {
  /** Short label for a badge or a menu item, e.g. "Open". */
  label: string;
  tone: StateTone;
  /** One sentence for the user, including the daemon's reason when it gives one. */
  sentence: string;
}

const STATE_WORDS: Record<TunnelState, { label: string; tone: StateTone; sentence: string }> = {
  stopped: { label: 'Stopped', tone: 'idle', sentence: 'Stopped: the local port is closed.' },
  listening: {
    label: 'Listening',
    tone: 'ok',
    sentence: 'Listening: a session opens on the first connection.',
  },
  connecting: { label: 'Connecting', tone: 'busy', sentence: 'Connecting to Session Manager.' },
  open: { label: 'Open', tone: 'ok', sentence: 'Open: connections are forwarded.' },
  reconnecting: {
    label: 'Reconnecting',
    tone: 'warn',
    sentence: 'Reconnecting: the session dropped and the daemon is opening a new one.',
  },
  'needs-login': {
    label: 'Needs login',
    tone: 'error',
    sentence: 'Needs login: the AWS credentials are missing or expired.',
  },
  failed: { label: 'Failed', tone: 'error', sentence: 'Failed: the daemon stopped retrying.' },
};

/** Describes a tunnel's state in plain words, appending the daemon's reason when present. */
export function describeState(status: Pick<TunnelStatus, 'state' | 'reason'>): StateDescription {
  const words = STATE_WORDS[status.state] ?? {
    label: String(status.state),
    tone: 'warn' as const,
    sentence: `Unknown state "${String(status.state)}".`,
  };
  const reason = status.reason?.trim();
  const sentence = reason ? `${words.sentence.replace(/\.$/, '')} (${reason}).` : words.sentence;
  return { label: words.label, tone: words.tone, sentence };
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
