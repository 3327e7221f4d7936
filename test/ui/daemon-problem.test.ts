import { describe, expect, it } from 'vitest';
import { ApiError, ERR_DAEMON_UNREACHABLE } from '../../ui/src/lib/api.js';
import { problemFromError, unreachable } from '../../ui/src/lib/daemon-problem.js';

describe('problemFromError', () => {
  it('reports an unreachable daemon with the start command', () => {
    const problem = problemFromError(new ApiError(0, ERR_DAEMON_UNREACHABLE, 'connect refused'));
    expect(problem?.kind).toBe('unreachable');
    expect(problem?.detail).toBe('connect refused');
    expect(problem?.hint).toContain('bastionless start');
  });

  it('tells a rejected token to reopen the dashboard', () => {
    const problem = problemFromError(new ApiError(401, 'ERR_UNAUTHORIZED', 'invalid token'));
    expect(problem?.kind).toBe('token-rejected');
    expect(problem?.hint).toContain('bastionless dashboard');
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
