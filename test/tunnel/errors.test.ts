// classifyError and toTunnelError: AWS SDK exceptions, credential-provider failures and
// socket errors mapped to stable codes, hints and the retryable flag.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromIni } from '@aws-sdk/credential-providers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BastionlessError,
  classifyError,
  mayNeedFreshCredentials,
  nameProfileInHint,
  needsLogin,
  toTunnelError,
  withDetail,
} from '../../daemon/errors.js';

function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyError', () => {
  const table: { input: Error; code: string; retryable: boolean }[] = [
    {
      input: awsError('TargetNotConnected', 'i-1 is not connected'),
      code: 'ERR_TARGET_NOT_CONNECTED',
      retryable: true,
    },
    {
      input: awsError('AccessDeniedException', 'not authorized', 403),
      code: 'ERR_ACCESS_DENIED',
      retryable: false,
    },
    {
      input: awsError('InvalidTarget', 'bad target'),
      code: 'ERR_INVALID_TARGET',
      retryable: false,
    },
    {
      input: awsError('ExpiredTokenException', 'token expired'),
      code: 'ERR_EXPIRED_CREDENTIALS',
      retryable: false,
    },
    {
      input: awsError('UnrecognizedClientException', 'invalid token'),
      code: 'ERR_INVALID_CREDENTIALS',
      retryable: false,
    },
    {
      input: awsError('DoesNotExistException', 'no session'),
      code: 'ERR_SESSION_NOT_FOUND',
      retryable: true,
    },
    {
      input: awsError('ThrottlingException', 'slow down'),
      code: 'ERR_AWS_UNAVAILABLE',
      retryable: true,
    },
    {
      input: awsError('SomethingNew', 'server broke', 503),
      code: 'ERR_AWS_UNAVAILABLE',
      retryable: true,
    },
    {
      input: awsError('SomethingNew', 'forbidden', 403),
      code: 'ERR_ACCESS_DENIED',
      retryable: false,
    },
    {
      input: systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'),
      code: 'ERR_ENDPOINT_UNREACHABLE',
      retryable: true,
    },
    {
      input: systemError('ENOTFOUND', 'getaddrinfo ENOTFOUND ssm.example'),
      code: 'ERR_ENDPOINT_UNREACHABLE',
      retryable: true,
    },
    {
      input: systemError('EADDRINUSE', 'listen EADDRINUSE'),
      code: 'ERR_PORT_IN_USE',
      retryable: false,
    },
    {
      input: Object.assign(new Error('aborted'), { name: 'AbortError' }),
      code: 'ERR_HANDSHAKE_TIMEOUT',
      retryable: true,
    },
    { input: new Error('something odd'), code: 'ERR_UNKNOWN', retryable: true },
  ];

  for (const { input, code, retryable } of table) {
    it(`maps ${input.name}/${(input as { code?: string }).code ?? '-'} to ${code}`, () => {
      const result = classifyError(input);
      expect(result.code).toBe(code);
      expect(result.retryable).toBe(retryable);
      expect(result.cause).toBe(input);
    });
  }

  it('keeps the AWS message', () => {
    const result = classifyError(awsError('AccessDeniedException', 'User arn:x is not authorized'));
    expect(result.message).toContain('User arn:x is not authorized');
    expect(result.hint).toContain('ssm:StartSession');
  });

  it('finds an SDK error in the cause chain', () => {
    const inner = awsError('TargetNotConnected', 'offline');
    const outer = Object.assign(new Error('StartSession failed', { cause: inner }), {
      name: 'PortForwardError',
      code: 'ERR_START_SESSION_FAILED',
    });
    expect(classifyError(outer).code).toBe('ERR_TARGET_NOT_CONNECTED');
  });

  it('keeps a foreign ERR_ code', () => {
    const error = Object.assign(new Error('smux failed'), { code: 'ERR_SMUX_FAILED' });
    const result = classifyError(error);
    expect(result.code).toBe('ERR_SMUX_FAILED');
    expect(result.retryable).toBe(true);
  });

  it('returns a BastionlessError unchanged', () => {
    const error = new BastionlessError('ERR_CONFIG_INVALID', 'bad config');
    expect(classifyError(error)).toBe(error);
  });

  it('names the SSO login command', () => {
    const error = Object.assign(
      new Error('The SSO session associated with this profile has expired or is otherwise invalid'),
      { name: 'CredentialsProviderError' },
    );
    const result = classifyError(error, { awsProfile: 'dev-admin' });
    expect(result.code).toBe('ERR_NEEDS_LOGIN');
    expect(result.hint).toContain('aws sso login --profile dev-admin');
    expect(needsLogin(result)).toBe(true);
  });

  it('asks for an MFA code', () => {
    const error = Object.assign(
      new Error(
        'Profile dev requires multi-factor authentication, but no MFA code callback was provided.',
      ),
      { name: 'CredentialsProviderError' },
    );
    expect(classifyError(error).code).toBe('ERR_NEEDS_LOGIN');
  });

  it('reports missing credentials', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    const result = classifyError(error);
    expect(result.code).toBe('ERR_NO_CREDENTIALS');
    expect(needsLogin(result)).toBe(true);
  });

  it('marks expired tokens as refreshable', () => {
    expect(mayNeedFreshCredentials(classifyError(awsError('ExpiredTokenException', 'x')))).toBe(
      true,
    );
    expect(mayNeedFreshCredentials(classifyError(awsError('InvalidTarget', 'x')))).toBe(false);
  });

  it('ignores "sso" inside other words', () => {
    const error = new Error('the resource associated with this token is invalid');
    expect(classifyError(error).code).toBe('ERR_UNKNOWN');
  });
});

describe('AWS profile and credential hints', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bastionless-errors-'));
    env = {
      AWS_CONFIG_FILE: join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
    };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the SDK's own fromIni against the files of `env`, so the message is the real one. */
  async function fromIniFailure(profile: string): Promise<unknown> {
    const provider = fromIni({
      profile,
      configFilepath: env.AWS_CONFIG_FILE,
      filepath: env.AWS_SHARED_CREDENTIALS_FILE,
      ignoreCache: true,
    });
    return provider().then(
      () => expect.unreachable('fromIni resolved credentials'),
      (error: unknown) => error,
    );
  }

  it('classifies a profile no file defines', async () => {
    const result = classifyError(await fromIniFailure('dev'), { awsProfile: 'dev', env });
    expect(result.code).toBe('ERR_AWS_PROFILE_NOT_FOUND');
    expect(result.message).toContain(env.AWS_CONFIG_FILE);
    expect(result.message).toContain(env.AWS_SHARED_CREDENTIALS_FILE);
    expect(result.hint).toContain('`aws configure --profile dev`');
    expect(result.hint).toContain('`aws configure sso`');
    expect(result.hint).toContain('bastionless edit NAME --aws-profile');
    expect(needsLogin(result)).toBe(true);
    expect(result.retryable).toBe(false);
  });

  it('points connect at --aws-profile', async () => {
    const error = await fromIniFailure('dev');
    const result = classifyError(error, { awsProfile: 'dev', env, settings: 'flags' });
    expect(result.code).toBe('ERR_AWS_PROFILE_NOT_FOUND');
    expect(result.hint).toContain('pass another --aws-profile');
    expect(result.hint).not.toContain('bastionless edit');
  });

  it('tells an empty profile from a missing one', async () => {
    await writeFile(env.AWS_CONFIG_FILE!, '[profile dev]\nregion = us-east-1\n');
    await writeFile(env.AWS_SHARED_CREDENTIALS_FILE!, '[other]\naws_access_key_id = AKIAX\n');
    const result = classifyError(await fromIniFailure('dev'), { awsProfile: 'dev', env });
    expect(result.code).toBe('ERR_NO_CREDENTIALS');
    expect(result.message).toBe('AWS profile "dev" has no credential settings');
    expect(result.hint).toContain(`[profile dev] in ${env.AWS_CONFIG_FILE}`);
  });

  it('names flags and variables without a profile', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    const result = classifyError(error, { settings: 'flags' });
    expect(result.code).toBe('ERR_NO_CREDENTIALS');
    expect(result.message).toBe('No default AWS credentials found');
    expect(result.hint).toContain('--aws-profile NAME');
    expect(result.hint).toContain('AWS_ACCESS_KEY_ID');
    expect(result.hint).not.toContain('tunnel profile');
  });

  it('names the edit command for a tunnel', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    const result = classifyError(error);
    expect(result.hint).toContain('`bastionless edit NAME --aws-profile PROFILE` (awsProfile)');
  });
});

describe('port and address hints', () => {
  const table: { code: string; flag: string; field: string }[] = [
    { code: 'EADDRINUSE', flag: 'bastionless edit NAME --local-port N', field: '(localPort)' },
    { code: 'EACCES', flag: 'bastionless edit NAME --local-port N', field: '(localPort)' },
    {
      code: 'EADDRNOTAVAIL',
      flag: 'bastionless edit NAME --bind 127.0.0.1',
      field: '(bindAddress)',
    },
  ];
  for (const { code, flag, field } of table) {
    it(`names the flag for ${code}`, () => {
      const hint = classifyError(systemError(code, 'listen failed')).hint;
      expect(hint).toContain(flag);
      expect(hint).toContain(field);
    });
  }

  it('names the flag for an invalid target', () => {
    const hint = classifyError(awsError('InvalidTarget', 'bad id')).hint;
    expect(hint).toContain('bastionless edit NAME --target ID');
  });
});

describe('profile name in hints', () => {
  it('names the profile when the caller knows it', () => {
    const hint = classifyError(systemError('EADDRINUSE', 'listen failed'), {
      profileName: 'orders-db',
    }).hint;
    expect(hint).toContain('bastionless edit orders-db --local-port N');
    expect(hint).not.toContain('NAME');
  });

  it('names it in a tunnel error', () => {
    const error = toTunnelError(awsError('InvalidTarget', 'bad id'), new Date(0), 'web');
    expect(error.hint).toContain('bastionless edit web --target ID');
  });

  it('fills in hints built without it', () => {
    const hint = 'Free the port or run `bastionless edit NAME --local-port N` (localPort).';
    expect(nameProfileInHint(hint, 'cache')).toBe(
      'Free the port or run `bastionless edit cache --local-port N` (localPort).',
    );
  });

  it('leaves other NAME words alone', () => {
    const hint = 'Set NAME in the AWS console, then run `bastionless up NAME`.';
    expect(nameProfileInHint(hint, 'cache')).toBe(
      'Set NAME in the AWS console, then run `bastionless up cache`.',
    );
  });
});

/** Counts the occurrences of `phrase` in `text`, ignoring case. */
function occurrences(text: string, phrase: string): number {
  return text.toLowerCase().split(phrase.toLowerCase()).length - 1;
}

describe('target not connected message', () => {
  it('names the target once from the AWS message', () => {
    const result = classifyError(
      awsError('TargetNotConnected', 'i-00000000000000bad is not connected.'),
    );
    expect(result.message).toBe('Target i-00000000000000bad is not connected to Systems Manager');
    expect(occurrences(result.message, 'not connected')).toBe(1);
    expect(occurrences(result.message, 'i-00000000000000bad')).toBe(1);
    expect(result.hint).toContain('SSM agent');
    expect(result.hint).toContain('i-00000000000000bad is a managed node');
  });

  it('states it once inside a wrapper', () => {
    const inner = awsError('TargetNotConnected', 'mi-0123456789abcdef0 is not connected.');
    const outer = Object.assign(
      new Error(`StartSession on mi-0123456789abcdef0 failed: ${inner.message}`, { cause: inner }),
      { name: 'PortForwardError', code: 'ERR_START_SESSION_FAILED' },
    );
    const result = classifyError(outer);
    expect(result.code).toBe('ERR_TARGET_NOT_CONNECTED');
    expect(result.message).toBe('Target mi-0123456789abcdef0 is not connected to Systems Manager');
  });

  it('prefers the target from the context', () => {
    const result = classifyError(awsError('TargetNotConnected', 'Target is not connected.'), {
      target: 'i-0123456789abcdef0',
    });
    expect(result.message).toBe('Target i-0123456789abcdef0 is not connected to Systems Manager');
  });

  it('omits an AWS message without an id', () => {
    const result = classifyError(awsError('TargetNotConnected', 'Target is not connected.'));
    expect(result.message).toBe('The target is not connected to Systems Manager');
  });

  it('keeps an AWS message that adds facts', () => {
    const result = classifyError(awsError('TargetNotConnected', 'agent version too old'));
    expect(result.message).toBe(
      'The target is not connected to Systems Manager: agent version too old',
    );
  });
});

describe('withDetail', () => {
  const cases: Array<[string, string, string]> = [
    [
      'Access denied',
      'User arn:x is not authorized',
      'Access denied: User arn:x is not authorized',
    ],
    ['Access denied', 'Access denied.', 'Access denied'],
    ['Access denied', 'access  denied', 'Access denied'],
    ['Session not found', '', 'Session not found'],
    ['Credentials expired', 'The credentials expired', 'Credentials expired'],
    ['Session start timed out', 'timed out', 'Session start timed out'],
  ];
  for (const [summary, detail, expected] of cases) {
    it(`joins "${summary}" and "${detail}"`, () => {
      expect(withDetail(summary, detail)).toBe(expected);
    });
  }
});

describe('classified messages without repeats', () => {
  const inputs: Array<[string, Error]> = [
    ['access denied', awsError('AccessDeniedException', 'Access denied', 403)],
    ['expired token', awsError('ExpiredTokenException', 'Credentials expired.')],
    ['throttling', awsError('ThrottlingException', 'AWS request failed')],
    ['session not found', awsError('DoesNotExistException', 'Session not found')],
    ['invalid target', awsError('InvalidTarget', 'Invalid target.')],
    ['unreachable endpoint', systemError('ECONNREFUSED', 'Cannot reach http://127.0.0.1:1')],
  ];
  for (const [label, input] of inputs) {
    it(`states ${label} once`, () => {
      const message = classifyError(input, { endpoint: 'http://127.0.0.1:1' }).message;
      const first = message.split(':')[0] as string;
      expect(occurrences(message, first)).toBe(1);
    });
  }
});

describe('toTunnelError', () => {
  it('copies code, message, hint and time', () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const result = toTunnelError(awsError('InvalidTarget', 'no such instance'), at);
    expect(result.code).toBe('ERR_INVALID_TARGET');
    expect(result.message).toContain('no such instance');
    expect(result.hint).toBeDefined();
    expect(result.at).toBe('2026-01-02T03:04:05.000Z');
  });

  it('omits an absent hint', () => {
    const result = toTunnelError(new BastionlessError('ERR_UNKNOWN', 'x'));
    expect('hint' in result).toBe(false);
  });
});
