import { describe, expect, it } from 'vitest';
import { ApiError } from '../../ui/src/lib/api.js';
import {
  addMfaRequest,
  mfaSubmitErrorMessage,
  normalizeMfaCode,
  removeMfaRequest,
} from '../../ui/src/lib/mfa.js';
import type { MfaRequest } from '../../ui/src/lib/types.js';

function mfaRequest(id: string, minute: number): MfaRequest {
  return {
    id,
    profile: `tunnel-${id}`,
    awsProfile: null,
    mfaSerial: 'arn:aws:iam::123456789012:mfa/alice',
    requestedAt: `2025-01-01T10:${String(minute).padStart(2, '0')}:00.000Z`,
  };
}

describe('normalizeMfaCode', () => {
  it.each([
    ['123456', '123456'],
    ['123 456', '123456'],
    ['\t123456 ', '123456'],
    ['123-456', '123456'],
  ])('accepts %j', (input, code) => {
    expect(normalizeMfaCode(input)).toBe(code);
  });

  it.each(['12345', '1234567', '12345a', '', '１２３４５６'])('rejects %j', (input) => {
    expect(normalizeMfaCode(input)).toBeNull();
  });
});

describe('addMfaRequest and removeMfaRequest', () => {
  it('keeps the oldest request first', () => {
    const list = addMfaRequest([mfaRequest('b', 5)], mfaRequest('a', 1));
    expect(list.map((request) => request.id)).toEqual(['a', 'b']);
  });

  it('replaces a request with the same id', () => {
    const list = addMfaRequest([mfaRequest('a', 1)], mfaRequest('a', 1));
    expect(list).toHaveLength(1);
  });

  it('removes by id', () => {
    const list = removeMfaRequest([mfaRequest('a', 1), mfaRequest('b', 2)], 'a');
    expect(list.map((request) => request.id)).toEqual(['b']);
  });
});

describe('mfaSubmitErrorMessage', () => {
  it('quotes the daemon on an invalid code', () => {
    const error = new ApiError(400, 'ERR_INVALID_MFA_CODE', 'code must be 6 digits');
    expect(mfaSubmitErrorMessage(error)).toBe(
      'The daemon rejected the code: code must be 6 digits.',
    );
  });

  it('explains an unknown request', () => {
    const error = new ApiError(404, 'ERR_MFA_REQUEST_NOT_FOUND', 'not found');
    expect(mfaSubmitErrorMessage(error)).toMatch(/already answered or timed out/);
  });

  it('names the code of other API errors', () => {
    const error = new ApiError(500, 'ERR_INTERNAL', 'boom');
    expect(mfaSubmitErrorMessage(error)).toBe('Sending the code failed: boom (ERR_INTERNAL).');
  });

  it('passes a plain error message through', () => {
    expect(mfaSubmitErrorMessage(new Error('socket hang up'))).toBe(
      'Sending the code failed: socket hang up',
    );
  });
});
