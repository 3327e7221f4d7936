// Client side of the session handshake: turns the agent's HandshakeRequest into the
// HandshakeResponse and the session facts the port-forwarding layer needs, and tracks one
// channel's handshake from the request to HandshakeComplete under a timeout.

import type { ClientMessage } from '../protocol/message.js';
import {
  ActionStatus,
  ActionType,
  encodeHandshakeResponse,
  parseHandshakeComplete,
  parseHandshakeRequest,
  parseSessionTypeParameters,
  type HandshakeRequest,
  type HandshakeResponse,
  type PayloadError,
  type ProcessedClientAction,
} from '../protocol/payloads.js';
import { createDeferred } from './deferred.js';
import { DataChannelError } from './errors.js';

export interface HandshakeResult {
  agentVersion: string;
  sessionType: string;
  /** Session document properties after parameter substitution, e.g. portNumber and type. */
  properties: Record<string, string>;
}

/** Session types the plugin accepts; any other value fails the SessionType action. */
const SUPPORTED_SESSION_TYPES = new Set([
  'Port',
  'Standard_Stream',
  'InteractiveCommands',
  'NonInteractiveCommands',
]);

export interface ProcessedHandshake {
  response: HandshakeResponse;
  result: HandshakeResult;
  /** Set when an action failed; the agent then cancels the session. */
  failure: string | null;
}

function processAction(
  actionType: string,
  parameters: unknown,
  result: HandshakeResult,
): ProcessedClientAction {
  const processed: ProcessedClientAction = {
    ActionType: actionType,
    ActionStatus: ActionStatus.Success,
    ActionResult: null,
    Error: '',
  };
  if (actionType === ActionType.SessionType) {
    const parsed = parseSessionTypeParameters(parameters);
    if (!parsed.ok) {
      processed.ActionStatus = ActionStatus.Failed;
      processed.Error = `Failed to process action ${actionType}: ${parsed.error.message}`;
    } else if (!SUPPORTED_SESSION_TYPES.has(parsed.value.SessionType)) {
      processed.ActionStatus = ActionStatus.Failed;
      processed.Error = `Failed to process action ${actionType}: unsupported session type ${parsed.value.SessionType}`;
    } else {
      result.sessionType = parsed.value.SessionType;
      result.properties = parsed.value.Properties;
    }
  } else if (actionType === ActionType.KMSEncryption) {
    // The agent never requests encryption for port sessions, and KMS support would need
    // credentials this layer does not have.
    processed.ActionStatus = ActionStatus.Failed;
    processed.Error = `Failed to process action ${actionType}: KMS encryption is not supported by this client`;
  } else {
    // The plugin reports status 0 here by mistake; 3 is the status the protocol defines.
    processed.ActionStatus = ActionStatus.Unsupported;
    processed.Error = `Unsupported action ${actionType}`;
  }
  return processed;
}

/** Processes every requested action in order and builds the response the agent expects. */
export function processHandshakeRequest(
  request: HandshakeRequest,
  clientVersion: string,
): ProcessedHandshake {
  const result: HandshakeResult = {
    agentVersion: request.AgentVersion,
    sessionType: '',
    properties: {},
  };
  const actions = request.RequestedClientActions.map((action) =>
    processAction(action.ActionType, action.ActionParameters, result),
  );
  const errors = actions
    .filter((action) => action.ActionStatus !== ActionStatus.Success)
    .map((action) => action.Error);
  return {
    response: { ClientVersion: clientVersion, ProcessedClientActions: actions, Errors: errors },
    result,
    failure: errors.length > 0 ? errors.join('; ') : null,
  };
}

export interface ClientHandshakeDependencies {
  clientVersion: string;
  timeoutMs: number;
  /** Sends the encoded HandshakeResponse at once, ahead of any queued data. */
  sendResponse: (payload: Buffer) => void;
  onProtocolError: (error: PayloadError) => void;
  /** Ends the channel after the handshake failed or timed out. */
  onFailure: (error: DataChannelError) => void;
  /** Runs after HandshakeComplete, when queued stream data may be sent. */
  onComplete: () => void;
}

/**
 * One channel's handshake state. The first HandshakeRequest gets a HandshakeResponse, and any
 * repeat is ignored. Receipt of HandshakeComplete resolves `promise`, and the timeout, a failed
 * action or `reject` rejects it.
 */
export class ClientHandshake {
  private readonly deferred = createDeferred<HandshakeResult>();
  private resultValue: HandshakeResult | null = null;
  private completed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ClientHandshakeDependencies) {
    // A handshake that fails before open() is awaited must not become an unhandled rejection.
    this.deferred.promise.catch(() => undefined);
  }

  get promise(): Promise<HandshakeResult> {
    return this.deferred.promise;
  }

  /** The agent's handshake facts, or null before the HandshakeRequest arrived. */
  get result(): HandshakeResult | null {
    return this.resultValue;
  }

  get isComplete(): boolean {
    return this.completed;
  }

  /** Starts the timeout, which fails the handshake unless HandshakeComplete arrives first. */
  startTimer(): void {
    this.timer = setTimeout(() => {
      this.deps.onFailure(
        new DataChannelError(
          'ERR_HANDSHAKE_TIMEOUT',
          `the agent did not complete the handshake within ${this.deps.timeoutMs} ms; ` +
            'check that the SSM agent on the target is running and up to date',
        ),
      );
    }, this.deps.timeoutMs);
    this.timer.unref();
  }

  clearTimer(): void {
    clearTimeout(this.timer);
  }

  /** Rejects the pending handshake because the channel ended before it completed. */
  reject(error: Error): void {
    this.deferred.reject(error);
  }

  onRequest(message: ClientMessage): void {
    if (this.resultValue !== null) {
      return;
    }
    const parsed = parseHandshakeRequest(message.payload);
    if (!parsed.ok) {
      this.deps.onProtocolError(parsed.error);
      this.fail(`invalid HandshakeRequest: ${parsed.error.message}`, parsed.error);
      return;
    }
    const processed = processHandshakeRequest(parsed.value, this.deps.clientVersion);
    this.resultValue = processed.result;
    this.deps.sendResponse(encodeHandshakeResponse(processed.response));
    if (processed.failure !== null) {
      this.fail(`the agent requested an action this client cannot perform: ${processed.failure}`);
    }
  }

  onComplete(message: ClientMessage): void {
    if (this.completed) {
      return;
    }
    if (this.resultValue === null) {
      this.fail('HandshakeComplete arrived before any HandshakeRequest');
      return;
    }
    // Receipt alone completes the handshake, as in the plugin; a malformed body is reported.
    const parsed = parseHandshakeComplete(message.payload);
    if (!parsed.ok) {
      this.deps.onProtocolError(parsed.error);
    }
    this.completed = true;
    clearTimeout(this.timer);
    this.deferred.resolve(this.resultValue);
    this.deps.onComplete();
  }

  private fail(reason: string, cause?: Error): void {
    this.deps.onFailure(new DataChannelError('ERR_HANDSHAKE_FAILED', reason, { cause }));
  }
}
