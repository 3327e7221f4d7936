// Selection of the MFA prompt the tray shows. The tray opens one small dialog at a time, for the
// oldest request the user has not closed, and lists the rest in the menu. Codes are returned to
// the caller and never kept in this object.

import {
  INVALID_MFA_CODE_MESSAGE,
  addMfaRequest,
  mfaSubmitErrorMessage,
  normalizeMfaCode,
  removeMfaRequest,
  sortOldestFirst,
} from '../../ui/src/lib/mfa.js';
import type { MfaRequest } from '../../ui/src/lib/types.js';

/** Content of the MFA dialog: the request, the last error, and how many more wait. */
export interface MfaDialogView {
  request: MfaRequest;
  /** Message of the last rejected submission, or null. */
  error: string | null;
  /** Number of other pending requests. */
  othersWaiting: number;
}

/** Result of `submitMfaCode` for the dialog page: success, or the error to show. */
export type MfaSubmitResult = { ok: true } | { ok: false; error: string };

/**
 * Bridge that electron/mfa-preload.ts exposes to the MFA dialog page as `window.bastionlessMfa`.
 * It is all the page can reach: the daemon's token and address stay in the main process.
 */
export interface MfaBridge {
  /** Returns the request the dialog shows, or null once it settled. */
  request(): Promise<MfaDialogView | null>;
  /** Sends a code for request `id` to the daemon through the main process. */
  submitMfaCode(id: string, code: string): Promise<MfaSubmitResult>;
}

/** A checked submission: the id and the normalized code to post, or the error to show. */
export type MfaSubmission =
  { ok: true; id: string; code: string } | { ok: false; id: string; error: string };

export class MfaPromptQueue {
  private requests: MfaRequest[] = [];
  /** Requests whose dialog the user closed; they stay reachable from the tray menu. */
  private readonly dismissed = new Set<string>();
  private readonly errors = new Map<string, string>();

  /** Replaces the pending requests with the daemon's list, e.g. after (re)connecting. */
  replaceAll(requests: readonly MfaRequest[]): void {
    this.requests = sortOldestFirst(requests);
    const ids = new Set(requests.map((request) => request.id));
    for (const id of [...this.dismissed]) if (!ids.has(id)) this.dismissed.delete(id);
    for (const id of [...this.errors.keys()]) if (!ids.has(id)) this.errors.delete(id);
  }

  /** Adds a request from an `mfa-required` event. */
  add(request: MfaRequest): void {
    this.requests = addMfaRequest(this.requests, request);
  }

  /** Removes a request that was answered, timed out or cancelled. */
  settle(id: string): void {
    this.requests = removeMfaRequest(this.requests, id);
    this.dismissed.delete(id);
    this.errors.delete(id);
  }

  /** Empties the queue, e.g. when the daemon becomes unreachable. */
  clear(): void {
    this.replaceAll([]);
  }

  /** Records that the user closed the dialog of `id` without answering. */
  dismiss(id: string): void {
    if (this.requests.some((request) => request.id === id)) this.dismissed.add(id);
  }

  /** Shows the dialog of `id` again, e.g. from the tray menu; false for an unknown id. */
  reopen(id: string): boolean {
    const index = this.requests.findIndex((request) => request.id === id);
    if (index < 0) return false;
    this.dismissed.delete(id);
    // Move it first, so the dialog switches to the request the user picked.
    const [picked] = this.requests.splice(index, 1);
    this.requests.unshift(picked!);
    return true;
  }

  /** Pending requests, in the order the dialog takes them. */
  pending(): MfaRequest[] {
    return [...this.requests];
  }

  /** Returns the dialog to show now, or null when none waits or the user closed every one. */
  dialog(): MfaDialogView | null {
    const request = this.requests.find((entry) => !this.dismissed.has(entry.id));
    if (!request) return null;
    return {
      request: { ...request },
      error: this.errors.get(request.id) ?? null,
      othersWaiting: this.requests.length - 1,
    };
  }

  /** Returns the dialog view of `id`, or null once that request settled. */
  viewOf(id: string): MfaDialogView | null {
    const request = this.requests.find((entry) => entry.id === id);
    if (!request) return null;
    return {
      request: { ...request },
      error: this.errors.get(id) ?? null,
      othersWaiting: this.requests.length - 1,
    };
  }

  /**
   * Checks a code typed for request `id`. Returns the request id and the six digits to post as
   * `POST /v1/mfa/:id` `{ code }`, or the error to show when the request is gone or the code
   * has another shape.
   */
  prepare(id: unknown, input: unknown): MfaSubmission {
    const known = typeof id === 'string' && this.requests.some((request) => request.id === id);
    if (!known) {
      return {
        ok: false,
        id: String(id),
        error: 'This request was already answered or timed out.',
      };
    }
    const code = typeof input === 'string' ? normalizeMfaCode(input) : null;
    if (code === null) {
      this.errors.set(id, INVALID_MFA_CODE_MESSAGE);
      return { ok: false, id, error: INVALID_MFA_CODE_MESSAGE };
    }
    this.errors.delete(id);
    return { ok: true, id, code };
  }

  /** Records a rejected `POST /v1/mfa/:id` and returns the message the dialog shows. */
  recordFailure(id: string, error: unknown): string {
    const message = mfaSubmitErrorMessage(error);
    if (this.requests.some((request) => request.id === id)) this.errors.set(id, message);
    return message;
  }
}
