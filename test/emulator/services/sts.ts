// STS GetCallerIdentity and AssumeRole (awsQuery protocol).

import { randomBytes } from 'node:crypto';
import { recordSecret } from '../../helpers/suite-secrets.js';
import { AwsApiError } from '../errors.js';
import type { HandlerContext, QueryHandler } from './index.js';
import { element, queryResponse } from './xml.js';

const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const DEFAULT_ACCOUNT = '123456789012';
const ROLE_ARN_PATTERN = /^arn:aws:iam::(\d{12}):role\/(.+)$/;
const MFA_CODE_PATTERN = /^\d{6}$/;
const DEFAULT_DURATION_SECONDS = 3600;

function callerOf(ctx: HandlerContext): { arn: string; account: string } {
  const credential = ctx.state.scenario.credentials.find(
    (candidate) => candidate.accessKeyId === ctx.accessKeyId,
  );
  const account = credential?.account ?? DEFAULT_ACCOUNT;
  return { account, arn: credential?.arn ?? `arn:aws:iam::${account}:user/emulator` };
}

const getCallerIdentity: QueryHandler = (_params, ctx) => {
  const caller = callerOf(ctx);
  return queryResponse(
    'GetCallerIdentity',
    STS_NAMESPACE,
    element('Arn', caller.arn) +
      element('UserId', ctx.accessKeyId) +
      element('Account', caller.account),
  );
};

function randomToken(prefix: string, bytes: number): string {
  return prefix + randomBytes(bytes).toString('hex').toUpperCase();
}

/**
 * Issues temporary credentials. When the scenario lists credentials, the new ones join the
 * list so the API accepts them; an empty list accepts every key and stays empty. A request
 * with `SerialNumber` must carry a six-digit `TokenCode`.
 */
const assumeRole: QueryHandler = (params, ctx) => {
  const roleArn = params.RoleArn ?? '';
  const match = ROLE_ARN_PATTERN.exec(roleArn);
  if (!match) {
    throw new AwsApiError('ValidationError', `invalid RoleArn ${JSON.stringify(roleArn)}`);
  }
  if (params.SerialNumber !== undefined && !MFA_CODE_PATTERN.test(params.TokenCode ?? '')) {
    throw new AwsApiError(
      'AccessDenied',
      'MultiFactorAuthentication failed with invalid MFA one time pass code.',
      403,
    );
  }

  recordSecret('mfa-code', params.TokenCode);

  const sessionName = params.RoleSessionName ?? 'session';
  const durationSeconds = Number(params.DurationSeconds ?? DEFAULT_DURATION_SECONDS);
  const account = match[1]!;
  const assumedArn = `arn:aws:sts::${account}:assumed-role/${match[2]}/${sessionName}`;
  const credential = {
    accessKeyId: randomToken('ASIA', 8),
    secretAccessKey: randomBytes(20).toString('base64'),
    sessionToken: randomBytes(32).toString('base64'),
    account,
    arn: assumedArn,
  };
  recordSecret('secret-access-key', credential.secretAccessKey);
  recordSecret('session-token', credential.sessionToken);
  if (ctx.state.scenario.credentials.length > 0) {
    ctx.state.scenario.credentials.push(credential);
  }

  const expiration = new Date(Date.now() + durationSeconds * 1000).toISOString();
  return queryResponse(
    'AssumeRole',
    STS_NAMESPACE,
    '<Credentials>' +
      element('AccessKeyId', credential.accessKeyId) +
      element('SecretAccessKey', credential.secretAccessKey) +
      element('SessionToken', credential.sessionToken) +
      element('Expiration', expiration) +
      '</Credentials>' +
      '<AssumedRoleUser>' +
      element('AssumedRoleId', `AROA${credential.accessKeyId.slice(4)}:${sessionName}`) +
      element('Arn', assumedArn) +
      '</AssumedRoleUser>',
  );
};

export const stsHandlers: Record<string, QueryHandler> = {
  GetCallerIdentity: getCallerIdentity,
  AssumeRole: assumeRole,
};
