import { describe, expect, it } from 'vitest';
import { MfaPromptQueue } from '../../electron/model/mfa-prompts.js';
import { ApiError } from '../../ui/src/lib/api.js';
import type { MfaRequest } from '../../ui/src/lib/types.js';

function mfaRequest(id: string, profile: string, minute: number): MfaRequest {
  return {
    id,
    profile,
    awsProfile: 'admin',
    mfaSerial: 'arn:aws:iam::123456789012:mfa/alice',
    requestedAt: `2025-01-01T10:${String(minute).padStart(2, '0')}:00.000Z`,
  };
}

const first = mfaRequest('r1', 'db', 1);
const second = mfaRequest('r2', 'cache', 2);

describe('MfaPromptQueue', () => {
  it('shows no dialog while empty', () => {
    expect(new MfaPromptQueue().dialog()).toBeNull();
  });

  it('shows the oldest request first', () => {
    const queue = new MfaPromptQueue();
    queue.add(second);
    queue.add(first);
    const dialog = queue.dialog();
    expect(dialog?.request.id).toBe('r1');
    expect(dialog?.othersWaiting).toBe(1);
    expect(dialog?.error).toBeNull();
  });

  it('ignores a repeated request', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    queue.add(first);
    expect(queue.pending()).toHaveLength(1);
  });

  it('moves on when a request settles', () => {
    const queue = new MfaPromptQueue();
    queue.replaceAll([first, second]);
    queue.settle('r1');
    expect(queue.dialog()?.request.id).toBe('r2');
    expect(queue.dialog()?.othersWaiting).toBe(0);
    queue.settle('r2');
    expect(queue.dialog()).toBeNull();
  });

  it('skips a dismissed request but keeps it pending', () => {
    const queue = new MfaPromptQueue();
    queue.replaceAll([first, second]);
    queue.dismiss('r1');
    expect(queue.dialog()?.request.id).toBe('r2');
    queue.dismiss('r2');
    expect(queue.dialog()).toBeNull();
    expect(queue.pending().map((request) => request.id)).toEqual(['r1', 'r2']);
  });

  it('reopens a dismissed request first', () => {
    const queue = new MfaPromptQueue();
    queue.replaceAll([first, second]);
    queue.dismiss('r1');
    queue.dismiss('r2');
    expect(queue.reopen('r2')).toBe(true);
    expect(queue.dialog()?.request.id).toBe('r2');
    expect(queue.reopen('unknown')).toBe(false);
  });

  it('replaces the list after reconnecting', () => {
    const queue = new MfaPromptQueue();
    queue.replaceAll([first]);
    queue.dismiss('r1');
    queue.replaceAll([second]);
    expect(queue.pending().map((request) => request.id)).toEqual(['r2']);
    // A request id that comes back later starts undismissed.
    queue.replaceAll([first]);
    expect(queue.dialog()?.request.id).toBe('r1');
  });

  it('clears everything when the daemon goes away', () => {
    const queue = new MfaPromptQueue();
    queue.replaceAll([first, second]);
    queue.clear();
    expect(queue.pending()).toEqual([]);
    expect(queue.dialog()).toBeNull();
  });
});

describe('MfaPromptQueue.prepare', () => {
  it.each([
    ['six digits', '493817', '493817'],
    ['digits with a space', '493 817', '493817'],
    ['surrounding whitespace', ' 493817\n', '493817'],
    ['digits with a dash', '493-817', '493817'],
  ])('accepts %s', (_case, input, code) => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    expect(queue.prepare('r1', input)).toEqual({ ok: true, id: 'r1', code });
  });

  it.each([
    ['five digits', '49381'],
    ['seven digits', '4938170'],
    ['a letter', '49a817'],
    ['empty input', ''],
    ['a number type', 493817],
  ])('rejects %s', (_case, input) => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    const result = queue.prepare('r1', input);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toBe('Enter the 6 digits your MFA device shows.');
    expect(queue.dialog()?.error).toBe('Enter the 6 digits your MFA device shows.');
  });

  it('rejects an unknown request id', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    const result = queue.prepare('r9', '493817');
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toContain('already answered or timed out');
  });

  it('clears the error after a valid code', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    queue.prepare('r1', 'bad');
    queue.prepare('r1', '493817');
    expect(queue.dialog()?.error).toBeNull();
  });

  it('never keeps the code', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    queue.prepare('r1', '493817');
    queue.recordFailure('r1', new ApiError(500, 'ERR_INTERNAL', 'boom'));
    expect(JSON.stringify(queue.dialog())).not.toContain('493817');
    expect(JSON.stringify(queue.pending())).not.toContain('493817');
  });
});

describe('MfaPromptQueue.recordFailure', () => {
  it('shows the daemon message of a 400', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    const error = new ApiError(
      400,
      'ERR_INVALID_MFA_CODE',
      'code must be the 6 digits the MFA device shows',
    );
    const message = queue.recordFailure('r1', error);
    expect(message).toBe(
      'The daemon rejected the code: code must be the 6 digits the MFA device shows.',
    );
    expect(queue.dialog()?.error).toBe(message);
  });

  it('explains a settled request on 404', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    const error = new ApiError(404, 'ERR_MFA_REQUEST_NOT_FOUND', 'MFA request r1 not found');
    expect(queue.recordFailure('r1', error)).toContain('already answered or timed out');
  });

  it('names the start command when unreachable', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    const error = new ApiError(
      0,
      'ERR_DAEMON_UNREACHABLE',
      'The daemon is unreachable: ECONNREFUSED.',
    );
    expect(queue.recordFailure('r1', error)).toContain('bastionless start');
  });

  it('forgets the error of a settled request', () => {
    const queue = new MfaPromptQueue();
    queue.add(first);
    queue.recordFailure('r1', new Error('socket hang up'));
    queue.settle('r1');
    queue.add(first);
    expect(queue.dialog()?.error).toBeNull();
  });
});
