// Starts one port-forwarding session for a profile: resolves the target and the remote host,
// applies the start timeout, and retries once with fresh credentials after an expired-token
// or 403 failure.

import type { SSMClient } from '@aws-sdk/client-ssm';
import type pino from 'pino';
import type { Profile } from '../config/types.js';
import { BastionlessError, classifyError, mayNeedFreshCredentials } from '../errors.js';
import type { PortForwardSession } from '../portforward/types.js';
import { parseRemoteHost } from '../aws/remote-host.js';
import type { TunnelDeps, TunnelTimings } from './options.js';

/** Where a session forwards to, as the agent was told at StartSession. */
export interface SessionRoute {
  /** Instance id the session runs on. */
  target: string;
  /** Host the agent dials, after resolving `rds:` style names; null for the target itself. */
  remoteHost: string | null;
  remotePort: number;
}

export interface LaunchedSession {
  session: PortForwardSession;
  route: SessionRoute;
}

/** True when `remoteHost` names an RDS or ElastiCache resource rather than a host. */
export function namesAwsResource(remoteHost: string | undefined): boolean {
  return remoteHost !== undefined && parseRemoteHost(remoteHost).kind !== 'host';
}

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

  /** Observing wrapper of `client`, rebuilt when the client changes. */
  private observedClient: { client: SSMClient; wrapper: SSMClient } | undefined;

  /** `onSsmResponse` is called after every SSM request of a session that got a response. */
  constructor(
    private readonly profile: Profile,
    private readonly deps: TunnelDeps,
    private readonly timings: TunnelTimings,
    private readonly log: pino.Logger,
    private readonly onSsmResponse: () => void = () => {},
  ) {}

  /**
   * Starts one session. `localPort` is passed to the service as the document's
   * localPortNumber. Aborting `controller` cancels the start.
   */
  async start(controller: AbortController, localPort: number): Promise<LaunchedSession> {
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
  ): Promise<LaunchedSession> {
    const target = await this.resolveTarget();
    const route = { target, ...(await this.resolveRemote()) };
    const started = this.deps.startSession({
      getSsmClient: () => this.ssmClient(),
      target,
      remoteHost: route.remoteHost ?? undefined,
      remotePort: route.remotePort,
      localPort,
      reason: `bastionless tunnel ${this.profile.name}`.slice(0, 256),
      signal: controller.signal,
      // Malformed frames from the service and stalls are logged with the tunnel's fields.
      dataChannel: { logger: this.log },
    });
    const session = await withTimeout(started, this.timings.startTimeoutMs, () => {
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
    return { session, route };
  }

  /**
   * Returns the profile's SSM client wrapped so that every successful `send` (StartSession,
   * ResumeSession, TerminateSession) calls `onSsmResponse`. The wrapper leaves the client
   * itself unchanged, because other tunnels of the same profile may share it.
   */
  private ssmClient(): SSMClient {
    const client = (this.client ??= this.deps.ssmClientFor(this.profile));
    if (this.observedClient?.client !== client) {
      const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
      const observedSend = async (...args: unknown[]): Promise<unknown> => {
        const output = await send(...args);
        this.onSsmResponse();
        return output;
      };
      const wrapper = new Proxy(client, {
        get: (target, property) =>
          property === 'send' ? observedSend : Reflect.get(target, property, target),
      });
      this.observedClient = { client, wrapper };
    }
    return this.observedClient.wrapper;
  }

  /** Returns the host and port the agent dials, looking up AWS resource names first. */
  async resolveRemote(): Promise<Omit<SessionRoute, 'target'>> {
    const remoteHost = this.profile.remoteHost;
    if (!namesAwsResource(remoteHost) || !this.deps.resolveRemoteHost) {
      return { remoteHost: remoteHost ?? null, remotePort: this.profile.remotePort };
    }
    const resolved = await this.deps.resolveRemoteHost(this.profile);
    return { remoteHost: resolved.host, remotePort: resolved.port ?? this.profile.remotePort };
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
