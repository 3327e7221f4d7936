// Starts a port-forwarding session: StartSession, the data channel and its handshake, and
// the forwarding mode the agent version calls for.

import {
  ResumeSessionCommand,
  StartSessionCommand,
  TerminateSessionCommand,
  type StartSessionCommandInput,
} from '@aws-sdk/client-ssm';

import { DataChannel, type DataChannelOptions } from '../datachannel/datachannel.js';
import { PortForwardError } from './errors.js';
import { forwardingModeFor, smuxKeepAliveFor } from './mode.js';
import { SsmPortForwardSession } from './session.js';
import type { PortForwardSession, PortForwardSessionOptions } from './types.js';

export const REMOTE_HOST_DOCUMENT = 'AWS-StartPortForwardingSessionToRemoteHost';
export const TARGET_PORT_DOCUMENT = 'AWS-StartPortForwardingSession';

export interface StartPortForwardOptions extends PortForwardSessionOptions {
  /** Data-channel settings other than the ones StartSession returns. */
  dataChannel?: Omit<DataChannelOptions, 'streamUrl' | 'tokenValue' | 'sessionId' | 'resume'>;
}

/** Builds the StartSession request for the document that fits the options. */
export function startSessionInput(options: PortForwardSessionOptions): StartSessionCommandInput {
  const localPortNumber = [String(options.localPort ?? 0)];
  const portNumber = [String(options.remotePort)];
  const input: StartSessionCommandInput = options.remoteHost
    ? {
        Target: options.target,
        DocumentName: REMOTE_HOST_DOCUMENT,
        Parameters: { host: [options.remoteHost], portNumber, localPortNumber },
      }
    : {
        Target: options.target,
        DocumentName: TARGET_PORT_DOCUMENT,
        Parameters: { portNumber, localPortNumber },
      };
  if (options.reason !== undefined) {
    input.Reason = options.reason;
  }
  return input;
}

/**
 * Starts a session on `options.target` and resolves once the agent completed the
 * handshake. A failure after StartSession succeeded terminates the new session before
 * the promise rejects, and so does an abort through `options.signal`.
 */
export async function startPortForwardSession(
  options: StartPortForwardOptions,
): Promise<PortForwardSession> {
  const { signal } = options;
  throwIfAborted(signal);
  let response;
  try {
    // No abortSignal here: an aborted request may still create the session on the service,
    // and then its SessionId is needed to terminate it.
    response = await options
      .getSsmClient()
      .send(new StartSessionCommand(startSessionInput(options)));
  } catch (error) {
    throwIfAborted(signal);
    throw new PortForwardError(
      'ERR_START_SESSION_FAILED',
      `StartSession on ${options.target} failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const { SessionId: sessionId, TokenValue: tokenValue, StreamUrl: streamUrl } = response;
  if (!sessionId || !tokenValue || !streamUrl) {
    throw new PortForwardError(
      'ERR_INVALID_START_RESPONSE',
      `StartSession on ${options.target} returned no ${!sessionId ? 'SessionId' : !tokenValue ? 'TokenValue' : 'StreamUrl'}; check the SSM endpoint`,
    );
  }

  const terminate = async (): Promise<void> => {
    await options.getSsmClient().send(new TerminateSessionCommand({ SessionId: sessionId }));
  };
  if (signal?.aborted) {
    await terminate().catch(() => {
      // The service ends the unused session on its idle timeout.
    });
    throwIfAborted(signal);
  }
  const channel = new DataChannel({
    ...options.dataChannel,
    streamUrl,
    tokenValue,
    sessionId,
    resume: () => resumeSession(options, sessionId),
  });
  const onAbort = (): void => void channel.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const handshake = await channel.open();
    throwIfAborted(signal);
    if (handshake.properties.type !== 'LocalPortForwarding') {
      throw new PortForwardError(
        'ERR_UNSUPPORTED_SESSION',
        `session ${sessionId} has type "${handshake.properties.type ?? ''}" and session type ` +
          `"${handshake.sessionType}", expected LocalPortForwarding; use a port-forwarding document`,
      );
    }
    const mode = forwardingModeFor(handshake.agentVersion);
    return new SsmPortForwardSession({
      sessionId,
      agentVersion: handshake.agentVersion,
      mode,
      keepAlive: mode === 'mux' && smuxKeepAliveFor(handshake.agentVersion),
      channel,
      terminate,
    });
  } catch (error) {
    await channel.close();
    await terminate().catch(() => {
      // The start already failed; the service ends the session on its idle timeout.
    });
    throwIfAborted(signal);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function resumeSession(
  options: PortForwardSessionOptions,
  sessionId: string,
): Promise<{ tokenValue: string }> {
  try {
    const response = await options
      .getSsmClient()
      .send(new ResumeSessionCommand({ SessionId: sessionId }));
    return { tokenValue: response.TokenValue ?? '' };
  } catch (error) {
    // A session that the service no longer has cannot come back, so stop retrying.
    if ((error as { name?: string }).name === 'DoesNotExistException') {
      (error as { retryable?: boolean }).retryable = false;
    }
    throw error;
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new PortForwardError('ERR_SESSION_ABORTED', 'session start was aborted', {
      cause: signal.reason,
    });
  }
}
