// Starts one port-forwarding session for a profile: resolves the target, applies the start
// timeout, and retries once with fresh credentials after an expired-token or 403 failure.

import type { SSMClient } from '@aws-sdk/client-ssm';
import type pino from 'pino';
import type { Profile } from '../config/types.js';
import { BastionlessError, classifyError, mayNeedFreshCredentials } from '../errors.js';
import type { PortForwardSession } from '../portforward/types.js';
import type { TunnelDeps, TunnelTimings } from './options.js';

/** Rejects with `onTimeout()` when `promise` has not settled after `ms` milliseconds. */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export class SessionLauncher {
  private client: SSMClient | undefined;
  /** Instance id of the last resolved target, shown in the status. */
  target: string | undefined;

  constructor(
    private readonly profile: Profile,
    private readonly deps: TunnelDeps,
    private readonly timings: TunnelTimings,
    private readonly log: pino.Logger,
  ) {}

  /**
   * Starts one session. `localPort` is passed to the service as the document's
   * localPortNumber. Aborting `controller` cancels the start.
   */
  async start(controller: AbortController, localPort: number): Promise<PortForwardSession> {
    try {
      return await this.startOnce(controller, localPort);
    } catch (error) {
      const classified = classifyError(error, { awsProfile: this.profile.awsProfile });
      if (
        !this.deps.refreshCredentials ||
        !mayNeedFreshCredentials(classified) ||
        controller.signal.aborted
      ) {
        throw classified;
      }
      this.log.info({ code: classified.code }, 'refreshing credentials and retrying session start');
      await this.refreshCredentials();
      return await this.startOnce(controller, localPort);
    }
  }

  /** Asks the refresher for new credentials and builds a new SSM client with them. */
  async refreshCredentials(): Promise<void> {
    await this.deps.refreshCredentials?.(this.profile);
    this.client = this.deps.ssmClientFor(this.profile);
  }

  private async startOnce(
    controller: AbortController,
    localPort: number,
  ): Promise<PortForwardSession> {
    const target = await this.resolveTarget();
    const started = this.deps.startSession({
      getSsmClient: () => (this.client ??= this.deps.ssmClientFor(this.profile)),
      target,
      remoteHost: this.profile.remoteHost,
      remotePort: this.profile.remotePort,
      localPort,
      reason: `bastionless tunnel ${this.profile.name}`.slice(0, 256),
      signal: controller.signal,
    });
    return withTimeout(started, this.timings.startTimeoutMs, () => {
      controller.abort();
      return new BastionlessError(
        'ERR_HANDSHAKE_TIMEOUT',
        `Session start for ${target} timed out after ${this.timings.startTimeoutMs} ms`,
        {
          hint: 'Check that the SSM agent on the target is running and recent. The start is retried.',
          retryable: true,
        },
      );
    });
  }

  private async resolveTarget(): Promise<string> {
    if (typeof this.profile.target === 'string') {
      this.target = this.profile.target;
      return this.target;
    }
    if (!this.deps.resolveTarget) {
      throw new BastionlessError(
        'ERR_INVALID_TARGET',
        `Profile ${this.profile.name} selects its target by tags, but no tag resolver is configured`,
        { hint: 'Set an instance id as target in the profile.' },
      );
    }
    this.target = await this.deps.resolveTarget(this.profile);
    return this.target;
  }
}
