// Pending MFA code requests. The credential provider of an assume-role profile with
// `mfa_serial` waits here until the CLI, the dashboard or the tray posts the code through the
// control API. Codes pass straight to STS and are never stored or logged.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BastionlessError } from '../errors.js';

/** One request for an MFA code, as `GET /v1/mfa` lists it. */
export interface MfaRequest {
  id: string;
  /** Name of the bastionless profile whose tunnel needs the code. */
  profile: string;
  /** Named AWS profile that assumes the role, or null for the default chain. */
  awsProfile: string | null;
  /** ARN or serial number of the MFA device. */
  mfaSerial: string;
  /** ISO 8601 time of the request. */
  requestedAt: string;
}

/** Time a request waits for its code before the credential load fails; 5 minutes. */
export const DEFAULT_MFA_TIMEOUT_MS = 5 * 60_000;
const MFA_CODE_PATTERN = /^\d{6}$/;

export class MfaCodeError extends Error {
  override readonly name = 'MfaCodeError';
  constructor(
    readonly code: 'ERR_INVALID_MFA_CODE' | 'ERR_MFA_REQUEST_NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  request: MfaRequest;
  resolve: (code: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface MfaBrokerOptions {
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Holds the MFA requests of every profile, oldest first. Events:
 * - `mfa-required` (MfaRequest): a credential load waits for a code.
 * - `mfa-settled` (request: MfaRequest, outcome: 'answered' | 'timed-out' | 'cancelled').
 */
export class MfaBroker extends EventEmitter {
  private readonly pending = new Map<string, Pending>();
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(options: MfaBrokerOptions = {}) {
    super();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_MFA_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Registers a request and resolves with the code once `answer` receives it. Rejects with
   * ERR_NEEDS_LOGIN when no code arrives within the timeout or the broker closes.
   */
  requestCode(input: { profile: string; awsProfile?: string; mfaSerial: string }): Promise<string> {
    const request: MfaRequest = {
      id: randomUUID(),
      profile: input.profile,
      awsProfile: input.awsProfile ?? null,
      mfaSerial: input.mfaSerial,
      requestedAt: new Date(this.now()).toISOString(),
    };
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(request.id, 'timed-out');
        reject(
          new BastionlessError(
            'ERR_NEEDS_LOGIN',
            `No MFA code for ${request.mfaSerial} was entered within ${Math.round(this.timeoutMs / 1000)} s`,
            {
              hint: 'Run `bastionless up ' + request.profile + '` on a terminal to enter the code.',
            },
          ),
        );
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(request.id, { request, resolve, reject, timer });
      this.emit('mfa-required', request);
    });
  }

  /** Pending requests, oldest first. */
  list(): MfaRequest[] {
    return [...this.pending.values()].map((entry) => ({ ...entry.request }));
  }

  /** True while a request of the bastionless profile `profile` waits for its code. */
  isWaiting(profile: string): boolean {
    return [...this.pending.values()].some((entry) => entry.request.profile === profile);
  }

  /**
   * Passes `code` to the waiting credential load. Throws ERR_INVALID_MFA_CODE unless the code
   * is six digits, and ERR_MFA_REQUEST_NOT_FOUND for an unknown or settled id.
   */
  answer(id: string, code: unknown): MfaRequest {
    if (typeof code !== 'string' || !MFA_CODE_PATTERN.test(code)) {
      throw new MfaCodeError(
        'ERR_INVALID_MFA_CODE',
        'code must be the 6 digits the MFA device shows',
      );
    }
    const entry = this.pending.get(id);
    if (!entry) {
      throw new MfaCodeError(
        'ERR_MFA_REQUEST_NOT_FOUND',
        `MFA request ${id} not found; it was answered or timed out (list them with GET /v1/mfa)`,
      );
    }
    this.settle(id, 'answered');
    entry.resolve(code);
    return { ...entry.request };
  }

  /** Rejects every pending request, e.g. when the daemon stops. */
  close(): void {
    for (const [id, entry] of this.pending) {
      this.settle(id, 'cancelled');
      entry.reject(
        new BastionlessError('ERR_NEEDS_LOGIN', 'MFA request cancelled: daemon stopping'),
      );
    }
  }

  private settle(id: string, outcome: 'answered' | 'timed-out' | 'cancelled'): void {
    const entry = this.pending.get(id);
    if (!entry) {
      return;
    }
    clearTimeout(entry.timer);
    this.pending.delete(id);
    this.emit('mfa-settled', { ...entry.request }, outcome);
  }
}
