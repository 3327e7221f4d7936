// JSON payloads of the Session Manager data channel, with strict parsers and encoders.
//
// Encoders write keys in the order Go's encoding/json writes the official structs, with
// no spaces and with '<', '>', '&', U+2028 and U+2029 escaped as \u00XX, so frames are
// byte-identical to the plugin's and agent's. Parsers never throw: they return either the
// value or a PayloadError naming the field that failed.

export type PayloadErrorCode =
  'ERR_PAYLOAD_NOT_JSON' | 'ERR_PAYLOAD_INVALID_FIELD' | 'ERR_PAYLOAD_FLAG_LENGTH';

/** A payload that is not valid JSON or does not have the expected shape. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
  constructor(
    readonly code: PayloadErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: PayloadError };

/** ActionStatus values of a processed client action. */
export const ActionStatus = {
  Success: 1,
  Failed: 2,
  Unsupported: 3,
} as const;

export const ActionType = {
  SessionType: 'SessionType',
  KMSEncryption: 'KMSEncryption',
} as const;

export interface OpenDataChannelInput {
  MessageSchemaVersion: string;
  RequestId: string;
  TokenValue: string;
  ClientId: string;
  /** Sent by plugins released since 2024-09; older plugins omit it. */
  ClientVersion?: string;
  /** Sent by the agent's variant of this frame instead of ClientVersion. */
  ClientInstanceId?: string;
}

export interface RequestedClientAction {
  ActionType: string;
  /** SessionType: `{ SessionType, Properties }`; KMSEncryption: `{ KMSKeyId, Challenge }`. */
  ActionParameters: unknown;
}

export interface HandshakeRequest {
  AgentVersion: string;
  RequestedClientActions: RequestedClientAction[];
}

export interface SessionTypeParameters {
  SessionType: string;
  Properties: Record<string, string>;
}

export interface ProcessedClientAction {
  ActionType: string;
  ActionStatus: number;
  ActionResult: unknown;
  Error: string;
}

export interface HandshakeResponse {
  ClientVersion: string;
  ProcessedClientActions: ProcessedClientAction[];
  Errors: string[];
}

export interface HandshakeComplete {
  /** Nanoseconds, as Go serializes a time.Duration. */
  HandshakeTimeToComplete: number;
  CustomerMessage: string;
}

export interface Acknowledge {
  AcknowledgedMessageType: string;
  AcknowledgedMessageId: string;
  AcknowledgedMessageSequenceNumber: number;
  IsSequentialMessage: boolean;
}

/** The MGS-originated `channel_closed` payload; every field is optional on receipt. */
export interface ChannelClosed {
  MessageId: string;
  /** Epoch milliseconds as text. */
  CreatedDate: string;
  DestinationId: string;
  SessionId: string;
  MessageType: string;
  SchemaVersion: number;
  Output: string;
}

const GO_HTML_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** Serializes like Go's json.Marshal: compact, insertion-ordered keys, HTML-safe escapes. */
export function encodeGoJson(value: unknown): Buffer {
  const text = JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (char) => GO_HTML_ESCAPES[char]!,
  );
  return Buffer.from(text, 'utf8');
}

/** Reads typed fields of one object and keeps the first PayloadError instead of throwing. */
class FieldReader {
  error: PayloadError | null = null;
  constructor(
    private readonly source: Record<string, unknown>,
    private readonly payloadName: string,
  ) {}

  private fail(key: string, expected: string): void {
    if (this.error === null) {
      const actual = JSON.stringify(this.source[key]) ?? 'undefined';
      this.error = new PayloadError(
        'ERR_PAYLOAD_INVALID_FIELD',
        `invalid ${this.payloadName}: ${key} is ${actual.slice(0, 80)}, expected ${expected}`,
      );
    }
  }

  string(key: string, options: { optional?: boolean } = {}): string {
    const value = this.source[key];
    if (typeof value === 'string') {
      return value;
    }
    if (options.optional && (value === undefined || value === null)) {
      return '';
    }
    this.fail(key, 'a string');
    return '';
  }

  integer(key: string, options: { min?: number; optional?: boolean } = {}): number {
    const value = this.source[key];
    if (options.optional && (value === undefined || value === null)) {
      return 0;
    }
    if (
      typeof value !== 'number' ||
      !Number.isSafeInteger(value) ||
      value < (options.min ?? -Infinity)
    ) {
      this.fail(key, options.min === 0 ? 'a non-negative safe integer' : 'a safe integer');
      return 0;
    }
    return value;
  }

  boolean(key: string): boolean {
    const value = this.source[key];
    if (typeof value !== 'boolean') {
      this.fail(key, 'a boolean');
      return false;
    }
    return value;
  }

  /** Reads an array; Go writes a nil slice as null, so null reads as empty. */
  array(key: string): unknown[] {
    const value = this.source[key];
    if (value === null) {
      return [];
    }
    if (!Array.isArray(value)) {
      this.fail(key, 'an array or null');
      return [];
    }
    return value;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid<T>(payloadName: string, detail: string): ParseResult<T> {
  return {
    ok: false,
    error: new PayloadError('ERR_PAYLOAD_INVALID_FIELD', `invalid ${payloadName}: ${detail}`),
  };
}

/** Parses JSON bytes into an object, or returns the error a non-object payload gets. */
function parseObject(
  payload: Buffer | string,
  payloadName: string,
): ParseResult<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (error) {
    return {
      ok: false,
      error: new PayloadError(
        'ERR_PAYLOAD_NOT_JSON',
        `invalid ${payloadName}: payload is not JSON (${(error as Error).message})`,
      ),
    };
  }
  if (!isObject(value)) {
    return invalid(payloadName, 'payload is not a JSON object');
  }
  return { ok: true, value };
}

function finish<T>(reader: FieldReader, value: T): ParseResult<T> {
  return reader.error === null ? { ok: true, value } : { ok: false, error: reader.error };
}

export function parseOpenDataChannelInput(
  payload: Buffer | string,
): ParseResult<OpenDataChannelInput> {
  const parsed = parseObject(payload, 'OpenDataChannelInput');
  if (!parsed.ok) {
    return parsed;
  }
  const reader = new FieldReader(parsed.value, 'OpenDataChannelInput');
  const value: OpenDataChannelInput = {
    MessageSchemaVersion: reader.string('MessageSchemaVersion'),
    RequestId: reader.string('RequestId'),
    TokenValue: reader.string('TokenValue'),
    ClientId: reader.string('ClientId'),
  };
  if (parsed.value.ClientVersion !== undefined) {
    value.ClientVersion = reader.string('ClientVersion');
  }
  if (parsed.value.ClientInstanceId !== undefined) {
    value.ClientInstanceId = reader.string('ClientInstanceId');
  }
  return finish(reader, value);
}

export function encodeOpenDataChannelInput(input: OpenDataChannelInput): string {
  const ordered: Record<string, string> = {
    MessageSchemaVersion: input.MessageSchemaVersion,
    RequestId: input.RequestId,
    TokenValue: input.TokenValue,
  };
  if (input.ClientInstanceId !== undefined) {
    ordered.ClientInstanceId = input.ClientInstanceId;
  }
  ordered.ClientId = input.ClientId;
  if (input.ClientVersion !== undefined) {
    ordered.ClientVersion = input.ClientVersion;
  }
  return encodeGoJson(ordered).toString('utf8');
}

export function parseHandshakeRequest(payload: Buffer): ParseResult<HandshakeRequest> {
  const parsed = parseObject(payload, 'HandshakeRequest');
  if (!parsed.ok) {
    return parsed;
  }
  const reader = new FieldReader(parsed.value, 'HandshakeRequest');
  const agentVersion = reader.string('AgentVersion');
  const actions: RequestedClientAction[] = [];
  for (const [index, item] of reader.array('RequestedClientActions').entries()) {
    if (!isObject(item)) {
      return invalid('HandshakeRequest', `RequestedClientActions[${index}] is not an object`);
    }
    const actionReader = new FieldReader(item, `HandshakeRequest action ${index}`);
    const action = {
      ActionType: actionReader.string('ActionType'),
      ActionParameters: item.ActionParameters ?? null,
    };
    if (actionReader.error !== null) {
      return { ok: false, error: actionReader.error };
    }
    actions.push(action);
  }
  return finish(reader, { AgentVersion: agentVersion, RequestedClientActions: actions });
}

/**
 * Parses the parameters of a SessionType action. Property values must be JSON strings:
 * the plugin decodes them into string fields, so a number would leave the port unset.
 */
export function parseSessionTypeParameters(
  parameters: unknown,
): ParseResult<SessionTypeParameters> {
  if (!isObject(parameters)) {
    return invalid('SessionType parameters', 'ActionParameters is not an object');
  }
  const reader = new FieldReader(parameters, 'SessionType parameters');
  const sessionType = reader.string('SessionType');
  if (reader.error !== null) {
    return { ok: false, error: reader.error };
  }
  const rawProperties = parameters.Properties ?? {};
  if (!isObject(rawProperties)) {
    return invalid('SessionType parameters', 'Properties is not an object');
  }
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawProperties)) {
    if (typeof value !== 'string') {
      return invalid(
        'SessionType parameters',
        `property ${key} is ${JSON.stringify(value)}, expected a string`,
      );
    }
    properties[key] = value;
  }
  return { ok: true, value: { SessionType: sessionType, Properties: properties } };
}

/** Encodes a HandshakeRequest; a Go map writes Properties with sorted keys. */
export function encodeHandshakeRequest(request: HandshakeRequest): Buffer {
  return encodeGoJson({
    AgentVersion: request.AgentVersion,
    RequestedClientActions: request.RequestedClientActions.map((action) => ({
      ActionType: action.ActionType,
      ActionParameters: sortSessionProperties(action.ActionParameters),
    })),
  });
}

function sortSessionProperties(parameters: unknown): unknown {
  if (!isObject(parameters) || !isObject(parameters.Properties)) {
    return parameters;
  }
  const keys = Object.keys(parameters.Properties).sort();
  const sorted: Record<string, unknown> = {};
  for (const key of keys) {
    sorted[key] = parameters.Properties[key];
  }
  return { ...parameters, Properties: sorted };
}

export function parseHandshakeResponse(payload: Buffer): ParseResult<HandshakeResponse> {
  const parsed = parseObject(payload, 'HandshakeResponse');
  if (!parsed.ok) {
    return parsed;
  }
  const reader = new FieldReader(parsed.value, 'HandshakeResponse');
  const clientVersion = reader.string('ClientVersion');
  const actions: ProcessedClientAction[] = [];
  for (const [index, item] of reader.array('ProcessedClientActions').entries()) {
    if (!isObject(item)) {
      return invalid('HandshakeResponse', `ProcessedClientActions[${index}] is not an object`);
    }
    const actionReader = new FieldReader(item, `HandshakeResponse action ${index}`);
    const action: ProcessedClientAction = {
      ActionType: actionReader.string('ActionType'),
      ActionStatus: actionReader.integer('ActionStatus'),
      ActionResult: item.ActionResult ?? null,
      Error: actionReader.string('Error', { optional: true }),
    };
    if (actionReader.error !== null) {
      return { ok: false, error: actionReader.error };
    }
    actions.push(action);
  }
  const errors = reader.array('Errors');
  if (!errors.every((item) => typeof item === 'string')) {
    return invalid('HandshakeResponse', 'Errors contains a value that is not a string');
  }
  return finish(reader, {
    ClientVersion: clientVersion,
    ProcessedClientActions: actions,
    Errors: errors as string[],
  });
}

/** Encodes a HandshakeResponse; empty Errors become null, as Go writes a nil slice. */
export function encodeHandshakeResponse(response: HandshakeResponse): Buffer {
  return encodeGoJson({
    ClientVersion: response.ClientVersion,
    ProcessedClientActions: response.ProcessedClientActions.map((action) => ({
      ActionType: action.ActionType,
      ActionStatus: action.ActionStatus,
      ActionResult: action.ActionResult ?? null,
      Error: action.Error,
    })),
    Errors: response.Errors.length === 0 ? null : response.Errors,
  });
}

export function parseHandshakeComplete(payload: Buffer): ParseResult<HandshakeComplete> {
  const parsed = parseObject(payload, 'HandshakeComplete');
  if (!parsed.ok) {
    return parsed;
  }
  const reader = new FieldReader(parsed.value, 'HandshakeComplete');
  return finish(reader, {
    HandshakeTimeToComplete: reader.integer('HandshakeTimeToComplete', { min: 0 }),
    CustomerMessage: reader.string('CustomerMessage', { optional: true }),
  });
}

export function encodeHandshakeComplete(complete: HandshakeComplete): Buffer {
  return encodeGoJson({
    HandshakeTimeToComplete: complete.HandshakeTimeToComplete,
    CustomerMessage: complete.CustomerMessage,
  });
}

/** Parses an acknowledgement; all four keys are required because both peers always write them. */
export function parseAcknowledge(payload: Buffer): ParseResult<Acknowledge> {
  const parsed = parseObject(payload, 'Acknowledge');
  if (!parsed.ok) {
    return parsed;
  }
  const reader = new FieldReader(parsed.value, 'Acknowledge');
  return finish(reader, {
    AcknowledgedMessageType: reader.string('AcknowledgedMessageType'),
    AcknowledgedMessageId: reader.string('AcknowledgedMessageId'),
    AcknowledgedMessageSequenceNumber: reader.integer('AcknowledgedMessageSequenceNumber', {
      min: 0,
    }),
    IsSequentialMessage: reader.boolean('IsSequentialMessage'),
  });
}

export function encodeAcknowledge(ack: Acknowledge): Buffer {
  return encodeGoJson({
    AcknowledgedMessageType: ack.AcknowledgedMessageType,
    AcknowledgedMessageId: ack.AcknowledgedMessageId,
    AcknowledgedMessageSequenceNumber: ack.AcknowledgedMessageSequenceNumber,
    IsSequentialMessage: ack.IsSequentialMessage,
  });
}

/**
 * Parses a channel_closed payload. Its real key order and contents are not documented,
 * so every field is optional but must have the right type when present.
 */
export function parseChannelClosed(payload: Buffer): ParseResult<ChannelClosed> {
  const parsed = parseObject(payload, 'channel_closed');
  if (!parsed.ok) {
    return parsed;
  }
  const reader = new FieldReader(parsed.value, 'channel_closed');
  return finish(reader, {
    MessageId: reader.string('MessageId', { optional: true }),
    CreatedDate: reader.string('CreatedDate', { optional: true }),
    DestinationId: reader.string('DestinationId', { optional: true }),
    SessionId: reader.string('SessionId', { optional: true }),
    MessageType: reader.string('MessageType', { optional: true }),
    SchemaVersion: reader.integer('SchemaVersion', { optional: true }),
    Output: reader.string('Output', { optional: true }),
  });
}

export function encodeChannelClosed(closed: ChannelClosed): Buffer {
  return encodeGoJson({
    MessageId: closed.MessageId,
    CreatedDate: closed.CreatedDate,
    DestinationId: closed.DestinationId,
    SessionId: closed.SessionId,
    MessageType: closed.MessageType,
    SchemaVersion: closed.SchemaVersion,
    Output: closed.Output,
  });
}

/** Parses a PayloadType 10 payload: exactly 4 bytes, a big-endian uint32. */
export function parseFlag(payload: Buffer): ParseResult<number> {
  if (payload.length !== 4) {
    return {
      ok: false,
      error: new PayloadError(
        'ERR_PAYLOAD_FLAG_LENGTH',
        `invalid flag payload: ${payload.length} bytes, expected 4`,
      ),
    };
  }
  return { ok: true, value: payload.readUInt32BE(0) };
}

export function encodeFlag(flag: number): Buffer {
  if (!Number.isInteger(flag) || flag < 0 || flag > 0xffffffff) {
    throw new RangeError(`invalid flag ${flag}: expected an integer from 0 to 4294967295`);
  }
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(flag, 0);
  return payload;
}
