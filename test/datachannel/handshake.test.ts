import { describe, expect, it } from 'vitest';
import { processHandshakeRequest } from '../../daemon/datachannel/handshake.js';

describe('processHandshakeRequest', () => {
  it('accepts a Port session', () => {
    const processed = processHandshakeRequest(
      {
        AgentVersion: '3.3.987.0',
        RequestedClientActions: [
          {
            ActionType: 'SessionType',
            ActionParameters: { SessionType: 'Port', Properties: { portNumber: '80' } },
          },
        ],
      },
      '1.2.707.0',
    );
    expect(processed.failure).toBeNull();
    expect(processed.result).toEqual({
      agentVersion: '3.3.987.0',
      sessionType: 'Port',
      properties: { portNumber: '80' },
    });
    expect(processed.response.ProcessedClientActions[0]!.ActionStatus).toBe(1);
  });

  it('fails KMS encryption', () => {
    const processed = processHandshakeRequest(
      {
        AgentVersion: '3.3.987.0',
        RequestedClientActions: [{ ActionType: 'KMSEncryption', ActionParameters: {} }],
      },
      '1.2.707.0',
    );
    expect(processed.response.ProcessedClientActions[0]!.ActionStatus).toBe(2);
    expect(processed.response.Errors).toHaveLength(1);
    expect(processed.failure).toMatch(/KMS/);
  });

  it('marks unknown actions unsupported', () => {
    const processed = processHandshakeRequest(
      {
        AgentVersion: '3',
        RequestedClientActions: [{ ActionType: 'Teleport', ActionParameters: null }],
      },
      '1.2.707.0',
    );
    expect(processed.response.ProcessedClientActions[0]).toEqual({
      ActionType: 'Teleport',
      ActionStatus: 3,
      ActionResult: null,
      Error: 'Unsupported action Teleport',
    });
  });

  it('fails a numeric port property', () => {
    const processed = processHandshakeRequest(
      {
        AgentVersion: '3',
        RequestedClientActions: [
          {
            ActionType: 'SessionType',
            ActionParameters: { SessionType: 'Port', Properties: { portNumber: 80 } },
          },
        ],
      },
      '1.2.707.0',
    );
    expect(processed.response.ProcessedClientActions[0]!.ActionStatus).toBe(2);
    expect(processed.failure).toMatch(/portNumber/);
  });
});
