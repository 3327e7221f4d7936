// Client side of the session handshake: turns the agent's HandshakeRequest into the
// HandshakeResponse and the session facts the port-forwarding layer needs.

import {
  ActionStatus,
  ActionType,
  parseSessionTypeParameters,
  type HandshakeRequest,
  type HandshakeResponse,
  type ProcessedClientAction,
} from '../protocol/payloads.js';

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
