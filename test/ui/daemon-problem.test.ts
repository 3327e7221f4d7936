import { describe, expect, it } from 'vitest';
import { ApiError, ERR_DAEMON_UNREACHABLE } from '../../ui/src/lib/api.js';
import {
  connectionIndicator,
  isDaemonLost,
  listFailed,
  problemFromError,
  unreachable,
} from '../../ui/src/lib/daemon-problem.js';

describe('problemFromError', () => {
  it('reports an unreachable daemon with the status command', () => {
    const error = new ApiError(
      0,
      ERR_DAEMON_UNREACHABLE,
      'The daemon is unreachable: Failed to fetch.',
    );
    const problem = problemFromError(error);
    expect(problem?.kind).toBe('unreachable');
    expect(problem?.title).toBe('The daemon does not respond.');
    expect(problem?.hint).toContain('`bastionless status`');
    expect(problem?.hint).toContain('suspended or hung');
    expect(problem?.hint).not.toContain('`bastionless start`');
    expect(problem?.hint).toContain('`bastionless dashboard`');
    expect(problem?.detail).toBe('The daemon is unreachable: Failed to fetch.');
  });

  it('says each fact once', () => {
    const problem = problemFromError(
      new ApiError(0, ERR_DAEMON_UNREACHABLE, 'The daemon is unreachable: Failed to fetch.'),
    )!;
    const bannerText = `${problem.title} ${problem.hint}`;
    expect(bannerText.match(/running/g)).toHaveLength(1);
    expect(bannerText.match(/suspended/g)).toHaveLength(1);
    expect(bannerText).not.toContain('unreachable');
    expect(bannerText).not.toContain('Failed to fetch');
  });

  it('tells a rejected token to reopen the dashboard', () => {
    const problem = problemFromError(new ApiError(401, 'ERR_UNAUTHORIZED', 'invalid token'));
    expect(problem?.kind).toBe('token-rejected');
    expect(problem?.hint).toContain('bastionless dashboard');
    expect(problem?.detail).toBe('invalid token');
  });

  it('leaves other errors to the form or row', () => {
    expect(problemFromError(new ApiError(400, 'ERR_PROFILE_INVALID', 'bad'))).toBeNull();
    expect(problemFromError(new ApiError(404, 'ERR_NOT_FOUND', 'gone'))).toBeNull();
    expect(problemFromError(new Error('plain'))).toBeNull();
  });
});

describe('unreachable', () => {
  it('keeps the detail', () => {
    expect(unreachable('socket closed').detail).toBe('socket closed');
  });
});

describe('listFailed', () => {
  it('names the message and code once', () => {
    const problem = listFailed(new ApiError(500, 'ERR_INTERNAL', 'Internal error.'));
    expect(problem.kind).toBe('error');
    expect(problem.title).toBe(
      'Loading the tunnel list failed: Internal error. Error code: ERR_INTERNAL.',
    );
    expect(problem.hint).toContain('bastionless logs');
  });

  it('ends a message without a full stop', () => {
    expect(listFailed(new Error('boom')).title).toBe('Loading the tunnel list failed: boom.');
  });
});

describe('isDaemonLost', () => {
  it('is true when the daemon is gone or rejects the token', () => {
    expect(isDaemonLost(unreachable('x'))).toBe(true);
    expect(isDaemonLost(problemFromError(new ApiError(401, 'ERR_UNAUTHORIZED', 'x')))).toBe(true);
  });

  it('is false while the daemon responds', () => {
    expect(isDaemonLost(null)).toBe(false);
    expect(isDaemonLost(listFailed(new Error('boom')))).toBe(false);
  });
});

describe('connectionIndicator', () => {
  const lost = unreachable('The daemon is unreachable: timed out after 10000 ms.');

  it('shows Live for an open stream while requests succeed', () => {
    expect(connectionIndicator('open', null)).toEqual({ tone: 'open', label: 'Live' });
  });

  it('shows Unreachable for an open stream of a silent daemon', () => {
    expect(connectionIndicator('open', lost)).toEqual({ tone: 'lost', label: 'Unreachable' });
  });

  it('shows Unreachable for a closed stream', () => {
    expect(connectionIndicator('closed', lost)).toEqual({ tone: 'lost', label: 'Unreachable' });
  });

  it('shows a rejected token', () => {
    const rejected = problemFromError(new ApiError(401, 'ERR_UNAUTHORIZED', 'invalid token'));
    expect(connectionIndicator('open', rejected).label).toBe('Token rejected');
  });

  it('keeps Live when the list fails with a daemon error', () => {
    const failed = listFailed(new ApiError(500, 'ERR_INTERNAL', 'boom'));
    expect(connectionIndicator('open', failed)).toEqual({ tone: 'open', label: 'Live' });
  });

  it('tells connecting from offline', () => {
    expect(connectionIndicator('connecting', null).label).toBe('Connecting');
    expect(connectionIndicator('closed', null).label).toBe('Offline');
  });
});
