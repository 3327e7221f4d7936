// MFA code requests as the dashboard and the tray show them. The daemon accepts exactly six
// digits (daemon/api/mfa.ts), so both check the code before posting it and explain a rejection
// in words. Nothing here keeps a code after the call that receives it returns.

import { ApiError, ERR_DAEMON_UNREACHABLE } from './api.js';
import type { MfaRequest } from './types.js';

/** Error text for a code that is not six digits, matching the daemon's field message. */
export const INVALID_MFA_CODE_MESSAGE = 'Enter the 6 digits your MFA device shows.';

/**
 * Returns the six digits of `input`, or null when it has any other shape. Spaces and dashes are
 * dropped first, because authenticator apps show codes as "123 456".
 */
export function normalizeMfaCode(input: string): string | null {
  const digits = input.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(digits) ? digits : null;
}

/** Returns `requests` plus `request`, oldest first, with no id twice. */
export function addMfaRequest(requests: readonly MfaRequest[], request: MfaRequest): MfaRequest[] {
  const others = requests.filter((entry) => entry.id !== request.id);
  return sortOldestFirst([...others, request]);
}

/** Returns `requests` without the request `id`. */
export function removeMfaRequest(requests: readonly MfaRequest[], id: string): MfaRequest[] {
  return requests.filter((entry) => entry.id !== id);
}

/** Returns a copy of `requests` ordered by request time, oldest first. */
export function sortOldestFirst(requests: readonly MfaRequest[]): MfaRequest[] {
  return [...requests].sort((a, b) => Date.parse(a.requestedAt) - Date.parse(b.requestedAt));
}

/** Turns a failed `POST /v1/mfa/:id` into a sentence for the prompt. */
export function mfaSubmitErrorMessage(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return `Sending the code failed: ${(error as Error).message}`;
  }
  if (error.code === 'ERR_INVALID_MFA_CODE') {
    return `The daemon rejected the code: ${error.message}.`;
  }
  if (error.code === 'ERR_MFA_REQUEST_NOT_FOUND') {
    return 'This request was already answered or timed out. Start the tunnel again for a new one.';
  }
  if (error.code === ERR_DAEMON_UNREACHABLE) {
    return `${error.message} Start it with \`bastionless start\` and try again.`;
  }
  return `Sending the code failed: ${error.message} (${error.code}).`;
}
