// Errors the daemon shows to users, and the one place that turns AWS SDK, credential
// provider and socket errors into them.

import { awsProfileDefined, awsProfileFiles } from './aws/profile-files.js';
import type { TunnelError } from './config/types.js';

export type ErrorCode =
  | 'ERR_PORT_IN_USE'
  | 'ERR_PORT_PERMISSION'
  | 'ERR_BIND_ADDRESS'
  | 'ERR_NON_LOOPBACK'
  | 'ERR_TARGET_NOT_CONNECTED'
  | 'ERR_ACCESS_DENIED'
  | 'ERR_INVALID_TARGET'
  | 'ERR_INVALID_DOCUMENT'
  | 'ERR_EXPIRED_CREDENTIALS'
  | 'ERR_INVALID_CREDENTIALS'
  | 'ERR_NO_CREDENTIALS'
  | 'ERR_AWS_PROFILE_NOT_FOUND'
  | 'ERR_NEEDS_LOGIN'
  | 'ERR_SESSION_NOT_FOUND'
  | 'ERR_AWS_UNAVAILABLE'
  | 'ERR_ENDPOINT_UNREACHABLE'
  | 'ERR_REMOTE_REFUSED'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_SESSION_FAILED'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_PARSE'
  | 'ERR_UNKNOWN_TUNNEL'
  | 'ERR_REMOTE_HOST_NOT_FOUND'
  | 'ERR_UNKNOWN';

export interface BastionlessErrorOptions {
  hint?: string;
  cause?: unknown;
  /** True when the same request may succeed later without a change by the user. */
  retryable?: boolean;
}

/** The error class for every failure the daemon reports to a user. */
export class BastionlessError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: BastionlessErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BastionlessError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * Hints for a command that exits when a start fails, such as `bastionless connect`. They
 * replace the hints of retryable errors, which promise the daemon's retry.
 */
const RUN_AGAIN_HINTS: Partial<Record<ErrorCode, string>> = {
  ERR_ENDPOINT_UNREACHABLE:
    'Check the network connection, the proxy and the endpoint (--endpoint-url, --ssm-endpoint), then run the command again.',
  ERR_AWS_UNAVAILABLE:
    'AWS is unavailable or throttling requests. Wait, then run the command again.',
  ERR_HANDSHAKE_TIMEOUT:
    'Check that the SSM agent on the target is running and up to date, then run the command again.',
  ERR_SESSION_NOT_FOUND:
    'The service has ended the session. Run the command again to start a new one.',
};

/**
 * Returns a copy of `error` with a run-again hint when the daemon's hint for its code promises
 * a retry, and returns any other error unchanged.
 */
export function withRunAgainHint(error: BastionlessError): BastionlessError {
  const hint = RUN_AGAIN_HINTS[error.code];
  if (hint === undefined) {
    return error;
  }
  return new BastionlessError(error.code, error.message, {
    hint,
    cause: error.cause,
    retryable: error.retryable,
  });
}

/** Codes that only a person can clear, for example by running `aws sso login`. */
const NEEDS_PERSON_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_NEEDS_LOGIN',
  'ERR_NO_CREDENTIALS',
  'ERR_AWS_PROFILE_NOT_FOUND',
  'ERR_INVALID_CREDENTIALS',
  'ERR_EXPIRED_CREDENTIALS',
]);

/** Codes where fresh credentials from the refresher may turn a failure into a success. */
const REFRESHABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_EXPIRED_CREDENTIALS',
  'ERR_ACCESS_DENIED',
]);

export function needsLogin(err: BastionlessError): boolean {
  return NEEDS_PERSON_CODES.has(err.code);
}

export function mayNeedFreshCredentials(err: BastionlessError): boolean {
  return REFRESHABLE_CODES.has(err.code);
}

export interface ClassifyContext {
  /** Named AWS profile, used to print the exact login command. */
  awsProfile?: string;
  /** SSM endpoint in use, named in endpoint errors. */
  endpoint?: string;
  /** Managed node id the request was for, named in target errors. */
  target?: string;
  /**
   * Source of the AWS settings, so hints name the right place: `profile` (the default) is a
   * tunnel profile changed with `bastionless edit`. `flags` is a command such as `connect`
   * that takes --aws-profile and reads the AWS_* variables.
   */
  settings?: 'profile' | 'flags';
  /** Environment that locates the AWS config files; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Name of the tunnel profile, put in `bastionless edit` hints in place of NAME. */
  profileName?: string;
}

/** Returns a `bastionless edit` command for a hint, with the profile name when it is known. */
function editCommand(context: ClassifyContext, options: string): string {
  return `\`bastionless edit ${context.profileName ?? 'NAME'} ${options}\``;
}

/**
 * Puts `profileName` into the `bastionless edit NAME` and `bastionless up NAME` commands of a
 * hint, for hints built where the profile was unknown, such as the listener errors of a tunnel.
 */
export function nameProfileInHint(hint: string, profileName: string): string {
  return hint
    .replaceAll('`bastionless edit NAME ', `\`bastionless edit ${profileName} `)
    .replaceAll('`bastionless up NAME`', `\`bastionless up ${profileName}\``);
}

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function loginCommand(context: ClassifyContext): string {
  return context.awsProfile ? `aws sso login --profile ${context.awsProfile}` : 'aws sso login';
}

function profileLabel(context: ClassifyContext): string {
  return context.awsProfile ? `AWS profile "${context.awsProfile}"` : 'the default AWS credentials';
}

/** Walks the `cause` chain and AggregateError members, outermost first, with a depth limit. */
function errorChain(err: unknown): ErrorShape[] {
  const chain: ErrorShape[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && chain.length < 8) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null) {
      continue;
    }
    const shape = next as ErrorShape;
    chain.push(shape);
    if (shape.cause !== undefined) {
      queue.push(shape.cause);
    }
    if (Array.isArray(shape.errors)) {
      queue.push(...shape.errors);
    }
  }
  return chain;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function normalizeSentence(sentence: string): string {
  return sentence
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/[.!\s]+$/, '')
    .trim();
}

/**
 * Appends `detail` to `summary` after a colon, unless one already contains the other. AWS
 * messages often restate the summary (TargetNotConnected reads "i-0abc is not connected."),
 * and printing both would show the same sentence twice.
 */
export function withDetail(summary: string, detail: string): string {
  const shortSummary = normalizeSentence(summary);
  const shortDetail = normalizeSentence(detail);
  if (!shortDetail || shortSummary.includes(shortDetail) || shortDetail.includes(shortSummary)) {
    return summary;
  }
  return `${summary}: ${detail}`;
}

/** Managed node ids as AWS prints them: EC2 instances (i-…) and hybrid nodes (mi-…). */
const MANAGED_NODE_ID = /\b(?:i|mi)-[0-9a-f]{8,17}\b/;

function targetNotConnected(
  awsMessage: string,
  cause: unknown,
  context: ClassifyContext,
): BastionlessError {
  const target = context.target ?? MANAGED_NODE_ID.exec(awsMessage)?.[0];
  const summary = target
    ? `Target ${target} is not connected to Systems Manager`
    : 'The target is not connected to Systems Manager';
  // The usual AWS message ("i-0abc is not connected.") contains only the id, so it is dropped.
  const message = withDetail(summary, awsMessage.replace(/^.*\bis not connected\.?$/, ''));
  return new BastionlessError('ERR_TARGET_NOT_CONNECTED', message, {
    hint:
      `Start the instance and its SSM agent, and check that ${target ?? 'the target'} is a ` +
      'managed node in this region (`bastionless targets` or `aws ssm describe-instance-information`).',
    cause,
    retryable: true,
  });
}

/** Maps an AWS service exception name to a daemon error, or returns undefined. */
function classifyAwsName(
  name: string,
  awsMessage: string,
  cause: unknown,
  context: ClassifyContext,
): BastionlessError | undefined {
  const detail = (summary: string): string => withDetail(summary, awsMessage);
  switch (name) {
    case 'TargetNotConnected':
      return targetNotConnected(awsMessage, cause, context);
    case 'AccessDeniedException':
      return new BastionlessError('ERR_ACCESS_DENIED', detail('Access denied'), {
        hint: `Grant ssm:StartSession on the target and document to the role of ${profileLabel(context)}.`,
        cause,
      });
    case 'InvalidTarget':
    case 'InvalidInstanceId':
      return new BastionlessError('ERR_INVALID_TARGET', detail('Invalid target'), {
        hint:
          `Check the instance id (${editCommand(context, '--target ID')}, the target field), and that ` +
          'the instance is a managed node in this region (`bastionless targets`).',
        cause,
      });
    case 'InvalidDocument':
      return new BastionlessError('ERR_INVALID_DOCUMENT', detail('Invalid session document'), {
        hint: 'Check that the port-forwarding documents exist in this region and that your role may use them.',
        cause,
      });
    case 'ExpiredTokenException':
    case 'ExpiredToken':
    case 'RequestExpired':
      return new BastionlessError('ERR_EXPIRED_CREDENTIALS', detail('Credentials expired'), {
        hint: `Run \`${loginCommand(context)}\` or refresh the credentials of ${profileLabel(context)}.`,
        cause,
      });
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'InvalidSignatureException':
    case 'SignatureDoesNotMatch':
      return new BastionlessError('ERR_INVALID_CREDENTIALS', detail('Credentials rejected'), {
        hint: `Check the access key of ${profileLabel(context)}, or run \`${loginCommand(context)}\`.`,
        cause,
      });
    case 'DoesNotExistException':
      return new BastionlessError('ERR_SESSION_NOT_FOUND', detail('Session not found'), {
        hint: 'The service has ended the session; a new one is started on the next connection.',
        cause,
        retryable: true,
      });
    case 'InternalServerError':
    case 'InternalFailure':
    case 'ServiceUnavailable':
    case 'ThrottlingException':
    case 'TooManyRequestsException':
      return new BastionlessError('ERR_AWS_UNAVAILABLE', detail('AWS request failed'), {
        hint: 'The request is retried with backoff.',
        cause,
        retryable: true,
      });
    default:
      return undefined;
  }
}

/** Returns how to choose another AWS profile, in the words of where the user sets it. */
function chooseProfileHint(context: ClassifyContext): string {
  return context.settings === 'flags'
    ? 'pass another --aws-profile'
    : `choose another with ${editCommand(context, '--aws-profile PROFILE')} (awsProfile)`;
}

function noCredentialsHint(context: ClassifyContext): string {
  if (context.awsProfile) {
    return `Run \`${loginCommand(context)}\` or check [profile ${context.awsProfile}] in ~/.aws/config.`;
  }
  if (context.settings === 'flags') {
    return (
      'Pass --aws-profile NAME, set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ' +
      'or configure default credentials with `aws configure`.'
    );
  }
  return (
    `Set an AWS profile with ${editCommand(context, '--aws-profile PROFILE')} (awsProfile), ` +
    'or configure default credentials with `aws configure`.'
  );
}

/**
 * Classifies the SDK's "Could not resolve credentials using profile: [dev]" failure. The SDK
 * raises it both for a profile that no file defines and for a section without credential
 * settings, so the files are read to tell the two apart.
 */
function unresolvedProfile(
  message: string,
  cause: unknown,
  context: ClassifyContext,
): BastionlessError | undefined {
  const profile = /could not resolve credentials using profile: \[([^\]]+)\]/i.exec(message)?.[1];
  if (profile === undefined) {
    return undefined;
  }
  const files = awsProfileFiles(context.env);
  if (awsProfileDefined(profile, files)) {
    return new BastionlessError(
      'ERR_NO_CREDENTIALS',
      `AWS profile "${profile}" has no credential settings`,
      {
        hint:
          `Add access keys, sso_session, role_arn with source_profile, or credential_process to ` +
          `[profile ${profile}] in ${files.configFile}, or run \`aws configure --profile ${profile}\`.`,
        cause,
      },
    );
  }
  return new BastionlessError(
    'ERR_AWS_PROFILE_NOT_FOUND',
    `AWS profile "${profile}" not found in ${files.configFile} or ${files.credentialsFile}`,
    {
      hint:
        `Create it with \`aws configure --profile ${profile}\` (access keys) or ` +
        `\`aws configure sso\` (IAM Identity Center), or ${chooseProfileHint(context)}.`,
      cause,
    },
  );
}

/** Recognises credential-provider failures (SSO expiry, missing MFA, no credentials). */
function classifyCredentialText(
  message: string,
  cause: unknown,
  context: ClassifyContext,
): BastionlessError | undefined {
  const lower = message.toLowerCase();
  const missingProfile = unresolvedProfile(message, cause, context);
  if (missingProfile) {
    return missingProfile;
  }
  if (/\bsso\b/.test(lower) && /expired|invalid|refresh|token/.test(lower)) {
    return new BastionlessError(
      'ERR_NEEDS_LOGIN',
      withDetail(`SSO session expired for ${profileLabel(context)}`, message),
      {
        hint: `Run \`${loginCommand(context)}\`, then start the tunnel again.`,
        cause,
      },
    );
  }
  if (/\bmfa\b|multi-factor/.test(lower)) {
    return new BastionlessError(
      'ERR_NEEDS_LOGIN',
      withDetail(`MFA code required for ${profileLabel(context)}`, message),
      {
        hint: `The role of ${profileLabel(context)} requires an MFA code. Enter it with \`bastionless mfa CODE\`, in the dashboard or in the tray app.`,
        cause,
      },
    );
  }
  if (lower.includes('could not load credentials')) {
    return new BastionlessError(
      'ERR_NO_CREDENTIALS',
      context.awsProfile
        ? `No AWS credentials found for ${profileLabel(context)}`
        : 'No default AWS credentials found',
      { hint: noCredentialsHint(context), cause },
    );
  }
  return undefined;
}

/** Maps Node.js system error codes (socket and DNS) to a daemon error, or returns undefined. */
function classifySystemCode(
  code: string,
  message: string,
  cause: unknown,
  context: ClassifyContext,
): BastionlessError | undefined {
  const endpoint = context.endpoint ?? 'the AWS endpoint';
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'EPIPE':
      return new BastionlessError(
        'ERR_ENDPOINT_UNREACHABLE',
        withDetail(`Cannot reach ${endpoint}`, message),
        {
          hint: 'Check the network connection, proxy and endpoint override; the request is retried with backoff.',
          cause,
          retryable: true,
        },
      );
    case 'EADDRINUSE':
      return new BastionlessError('ERR_PORT_IN_USE', message, {
        hint: `Stop the program that uses the port, or choose another port with ${editCommand(context, '--local-port N')} (localPort).`,
        cause,
      });
    case 'EACCES':
      return new BastionlessError('ERR_PORT_PERMISSION', message, {
        hint: `Choose a port above 1023 with ${editCommand(context, '--local-port N')} (localPort), or grant the daemon permission to bind low ports.`,
        cause,
      });
    case 'EADDRNOTAVAIL':
      return new BastionlessError('ERR_BIND_ADDRESS', message, {
        hint: `Listen on an address of this machine, e.g. ${editCommand(context, '--bind 127.0.0.1')} (bindAddress).`,
        cause,
      });
    default:
      return undefined;
  }
}

/**
 * Converts any thrown value into a BastionlessError. Looks through the `cause` chain, so an
 * SDK exception wrapped by the port-forwarding session is still recognised.
 */
export function classifyError(err: unknown, context: ClassifyContext = {}): BastionlessError {
  if (err instanceof BastionlessError) {
    return err;
  }
  const chain = errorChain(err);
  // An error that the credentials cache already classified, wrapped by the port-forwarding
  // session, keeps its hint: it can name the sso-session, which the text here cannot know.
  const inner = chain.find(
    (shape): shape is BastionlessError =>
      shape instanceof BastionlessError && shape.code !== 'ERR_UNKNOWN',
  );
  if (inner) {
    return inner;
  }
  for (const shape of chain) {
    const name = text(shape.name);
    const message = text(shape.message);
    const found =
      classifyAwsName(name, message, err, context) ??
      classifyCredentialText(message, err, context) ??
      classifySystemCode(text(shape.code), message, err, context);
    if (found) {
      return found;
    }
    if (name === 'AbortError' || name === 'TimeoutError') {
      return new BastionlessError(
        'ERR_HANDSHAKE_TIMEOUT',
        withDetail('Session start timed out', message),
        {
          hint: 'Check that the SSM agent on the target is running and up to date; the start is retried.',
          cause: err,
          retryable: true,
        },
      );
    }
    const status = shape.$metadata?.httpStatusCode;
    if (status === 403) {
      return new BastionlessError(
        'ERR_ACCESS_DENIED',
        withDetail('Access denied (HTTP 403)', message),
        {
          hint: `Check the permissions and credentials of ${profileLabel(context)}.`,
          cause: err,
        },
      );
    }
    if (typeof status === 'number' && status >= 500) {
      return new BastionlessError(
        'ERR_AWS_UNAVAILABLE',
        withDetail(`AWS request failed (HTTP ${status})`, message),
        {
          hint: 'The request is retried with backoff.',
          cause: err,
          retryable: true,
        },
      );
    }
  }
  return foreignCoded(chain[0], err) ?? unknownError(err);
}

/** Keeps an ERR_* code set by another module (for example the port-forwarding session). */
function foreignCoded(shape: ErrorShape | undefined, err: unknown): BastionlessError | undefined {
  const code = text(shape?.code);
  if (!code.startsWith('ERR_')) {
    return undefined;
  }
  const retryable = (shape as { retryable?: unknown }).retryable;
  return new BastionlessError(code as ErrorCode, text(shape?.message) || code, {
    cause: err,
    retryable: typeof retryable === 'boolean' ? retryable : true,
  });
}

function unknownError(err: unknown): BastionlessError {
  const message = err instanceof Error ? err.message : String(err);
  // Unknown failures are retried with backoff, because a wrong fatal verdict would stop a
  // tunnel that a later attempt could open.
  return new BastionlessError('ERR_UNKNOWN', message || 'Unknown error', {
    cause: err,
    retryable: true,
  });
}

/**
 * Converts an error into the `lastError` shape of a tunnel status. With `profileName`, the
 * hint's `bastionless edit` commands name that profile.
 */
export function toTunnelError(
  err: unknown,
  at: Date = new Date(),
  profileName?: string,
): TunnelError {
  const classified = classifyError(err, { profileName });
  const result: TunnelError = {
    code: classified.code,
    message: classified.message,
    at: at.toISOString(),
  };
  if (classified.hint) {
    result.hint =
      profileName === undefined ? classified.hint : nameProfileInHint(classified.hint, profileName);
  }
  return result;
}
