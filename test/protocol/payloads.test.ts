import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeAcknowledge,
  encodeChannelClosed,
  encodeFlag,
  encodeGoJson,
  encodeHandshakeComplete,
  encodeHandshakeRequest,
  encodeHandshakeResponse,
  encodeOpenDataChannelInput,
  parseAcknowledge,
  parseChannelClosed,
  parseFlag,
  parseHandshakeComplete,
  parseHandshakeRequest,
  parseHandshakeResponse,
  parseOpenDataChannelInput,
  parseSessionTypeParameters,
  PayloadError,
  type ParseResult,
} from '../../daemon/protocol/payloads.js';

function errorOf<T>(result: ParseResult<T>): PayloadError {
  expect(result.ok).toBe(false);
  if (result.ok) {
    throw new Error('expected a parse error');
  }
  expect(result.error).toBeInstanceOf(PayloadError);
  return result.error;
}

function valueOf<T>(result: ParseResult<T>): T {
  if (!result.ok) {
    throw result.error;
  }
  return result.value;
}

const REQUEST_JSON =
  '{"AgentVersion":"3.3.987.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"localPortNumber":"56789","portNumber":"80","type":"LocalPortForwarding"}}}]}';

describe('OpenDataChannelInput', () => {
  it('writes keys in Go order', () => {
    const text = encodeOpenDataChannelInput({
      MessageSchemaVersion: '1.0',
      RequestId: 'r',
      TokenValue: 't',
      ClientId: 'c',
      ClientVersion: '1.2.707.0',
    });
    expect(text).toBe(
      '{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c","ClientVersion":"1.2.707.0"}',
    );
  });

  it('writes the agent variant in Go order', () => {
    const text = encodeOpenDataChannelInput({
      MessageSchemaVersion: '1.0',
      RequestId: 'r',
      TokenValue: 't',
      ClientInstanceId: 'i',
      ClientId: 'c',
    });
    expect(text).toBe(
      '{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientInstanceId":"i","ClientId":"c"}',
    );
  });

  it('parses with and without ClientVersion', () => {
    const withVersion = valueOf(
      parseOpenDataChannelInput(
        '{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c","ClientVersion":"1.2.707.0"}',
      ),
    );
    expect(withVersion.ClientVersion).toBe('1.2.707.0');
    const without = valueOf(
      parseOpenDataChannelInput(
        '{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c"}',
      ),
    );
    expect(without.ClientVersion).toBeUndefined();
  });

  it('rejects a missing token', () => {
    const error = errorOf(
      parseOpenDataChannelInput('{"MessageSchemaVersion":"1.0","RequestId":"r","ClientId":"c"}'),
    );
    expect(error.code).toBe('ERR_PAYLOAD_INVALID_FIELD');
    expect(error.message).toMatch(/TokenValue/);
  });
});

describe('HandshakeRequest', () => {
  it('parses the port request', () => {
    const request = valueOf(parseHandshakeRequest(Buffer.from(REQUEST_JSON)));
    expect(request.AgentVersion).toBe('3.3.987.0');
    expect(request.RequestedClientActions).toHaveLength(1);
    const parameters = valueOf(
      parseSessionTypeParameters(request.RequestedClientActions[0]!.ActionParameters),
    );
    expect(parameters.SessionType).toBe('Port');
    expect(parameters.Properties.portNumber).toBe('80');
  });

  it('encodes with sorted properties', () => {
    const encoded = encodeHandshakeRequest({
      AgentVersion: '3.3.987.0',
      RequestedClientActions: [
        {
          ActionType: 'SessionType',
          ActionParameters: {
            SessionType: 'Port',
            Properties: { type: 'LocalPortForwarding', portNumber: '80', localPortNumber: '56789' },
          },
        },
      ],
    });
    expect(encoded.toString()).toBe(REQUEST_JSON);
  });

  it('reads null actions as empty', () => {
    const request = valueOf(
      parseHandshakeRequest(Buffer.from('{"AgentVersion":"3","RequestedClientActions":null}')),
    );
    expect(request.RequestedClientActions).toEqual([]);
  });

  it('rejects a numeric property value', () => {
    const error = errorOf(
      parseSessionTypeParameters({ SessionType: 'Port', Properties: { portNumber: 80 } }),
    );
    expect(error.message).toMatch(/portNumber/);
  });

  it('rejects a non-object action', () => {
    const error = errorOf(
      parseHandshakeRequest(Buffer.from('{"AgentVersion":"3","RequestedClientActions":[1]}')),
    );
    expect(error.message).toMatch(/RequestedClientActions\[0\]/);
  });

  it('rejects a missing AgentVersion', () => {
    expect(errorOf(parseHandshakeRequest(Buffer.from('{"RequestedClientActions":[]}'))).code).toBe(
      'ERR_PAYLOAD_INVALID_FIELD',
    );
  });
});

describe('HandshakeResponse', () => {
  const json =
    '{"ClientVersion":"1.2.650.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}';

  it('encodes byte-identical to the plugin', () => {
    const encoded = encodeHandshakeResponse({
      ClientVersion: '1.2.650.0',
      ProcessedClientActions: [
        { ActionType: 'SessionType', ActionStatus: 1, ActionResult: null, Error: '' },
      ],
      Errors: [],
    });
    expect(encoded.toString()).toBe(json);
  });

  it('parses what it encodes', () => {
    const response = valueOf(parseHandshakeResponse(Buffer.from(json)));
    expect(response.ClientVersion).toBe('1.2.650.0');
    expect(response.ProcessedClientActions[0]!.ActionStatus).toBe(1);
    expect(response.Errors).toEqual([]);
  });

  it('rejects non-string errors', () => {
    const bad = json.replace('"Errors":null', '"Errors":[1]');
    expect(errorOf(parseHandshakeResponse(Buffer.from(bad))).message).toMatch(/Errors/);
  });
});

describe('HandshakeComplete', () => {
  it('round-trips', () => {
    const encoded = encodeHandshakeComplete({
      HandshakeTimeToComplete: 15324110,
      CustomerMessage: '',
    });
    expect(encoded.toString()).toBe('{"HandshakeTimeToComplete":15324110,"CustomerMessage":""}');
    expect(valueOf(parseHandshakeComplete(encoded)).HandshakeTimeToComplete).toBe(15324110);
  });

  it('rejects a fractional duration', () => {
    const error = errorOf(
      parseHandshakeComplete(Buffer.from('{"HandshakeTimeToComplete":1.5,"CustomerMessage":""}')),
    );
    expect(error.message).toMatch(/HandshakeTimeToComplete/);
  });
});

describe('Acknowledge', () => {
  it('parses a complete ack', () => {
    const ack = valueOf(
      parseAcknowledge(
        encodeAcknowledge({
          AcknowledgedMessageType: 'output_stream_data',
          AcknowledgedMessageId: 'id',
          AcknowledgedMessageSequenceNumber: 7,
          IsSequentialMessage: true,
        }),
      ),
    );
    expect(ack.AcknowledgedMessageSequenceNumber).toBe(7);
  });

  it('rejects a negative sequence number', () => {
    const json =
      '{"AcknowledgedMessageType":"t","AcknowledgedMessageId":"i","AcknowledgedMessageSequenceNumber":-1,"IsSequentialMessage":true}';
    expect(errorOf(parseAcknowledge(Buffer.from(json))).message).toMatch(/SequenceNumber/);
  });

  it('rejects a sequence number beyond 2^53', () => {
    const json =
      '{"AcknowledgedMessageType":"t","AcknowledgedMessageId":"i","AcknowledgedMessageSequenceNumber":9007199254740993,"IsSequentialMessage":true}';
    expect(errorOf(parseAcknowledge(Buffer.from(json))).code).toBe('ERR_PAYLOAD_INVALID_FIELD');
  });

  it('rejects a missing IsSequentialMessage', () => {
    const json =
      '{"AcknowledgedMessageType":"t","AcknowledgedMessageId":"i","AcknowledgedMessageSequenceNumber":1}';
    expect(errorOf(parseAcknowledge(Buffer.from(json))).message).toMatch(/IsSequentialMessage/);
  });

  it('rejects a JSON array', () => {
    expect(errorOf(parseAcknowledge(Buffer.from('[]'))).code).toBe('ERR_PAYLOAD_INVALID_FIELD');
  });

  it('rejects invalid JSON', () => {
    expect(errorOf(parseAcknowledge(Buffer.from('{"a":'))).code).toBe('ERR_PAYLOAD_NOT_JSON');
  });
});

describe('channel_closed', () => {
  it('round-trips with Output', () => {
    const encoded = encodeChannelClosed({
      MessageId: 'm',
      CreatedDate: '1503434274948',
      DestinationId: 'i-0123',
      SessionId: 's',
      MessageType: 'channel_closed',
      SchemaVersion: 1,
      Output: 'Session idle timeout',
    });
    expect(valueOf(parseChannelClosed(encoded)).Output).toBe('Session idle timeout');
  });

  it('defaults missing fields', () => {
    const closed = valueOf(parseChannelClosed(Buffer.from('{}')));
    expect(closed.Output).toBe('');
    expect(closed.SchemaVersion).toBe(0);
  });

  it('rejects a numeric Output', () => {
    expect(errorOf(parseChannelClosed(Buffer.from('{"Output":5}'))).message).toMatch(/Output/);
  });
});

describe('flags', () => {
  it('encodes big-endian', () => {
    expect(encodeFlag(2).toString('hex')).toBe('00000002');
  });

  it('parses exactly four bytes', () => {
    expect(valueOf(parseFlag(Buffer.from('00000003', 'hex')))).toBe(3);
    expect(errorOf(parseFlag(Buffer.from('000003', 'hex'))).code).toBe('ERR_PAYLOAD_FLAG_LENGTH');
  });

  it('rejects values outside uint32', () => {
    expect(() => encodeFlag(-1)).toThrow(RangeError);
    expect(() => encodeFlag(2 ** 32)).toThrow(RangeError);
  });
});

describe('Go JSON escaping', () => {
  it('escapes HTML characters and line separators', () => {
    expect(encodeGoJson({ a: '<&>\u2028' }).toString()).toBe(
      '{"a":"\\u003c\\u0026\\u003e\\u2028"}',
    );
  });
});

describe('parsers never throw', () => {
  const parsers = [
    parseAcknowledge,
    parseHandshakeRequest,
    parseHandshakeResponse,
    parseHandshakeComplete,
    parseChannelClosed,
    parseFlag,
    (payload: Buffer) => parseOpenDataChannelInput(payload),
  ];

  it('returns a result for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const parse of parsers) {
          const result = parse(Buffer.from(bytes));
          expect(typeof result.ok).toBe('boolean');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('returns a result for random JSON', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        for (const parse of parsers) {
          const result = parse(Buffer.from(text));
          expect(typeof result.ok).toBe('boolean');
        }
        expect(typeof parseSessionTypeParameters(JSON.parse(text)).ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});
