// Credential hints of the commands that call AWS themselves: they name the command's own
// --aws-profile, or `bastionless edit NAME` with the name of the tunnel profile in use.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsApiServer, type AwsApiServer } from '../aws/helpers/aws-api-server.js';
import { makeProfile } from '../aws/helpers/fixtures.js';
import { runCli, useCliHome, type CliHome } from './helpers.js';

const FLAGS_HINT =
  'Pass --aws-profile NAME, set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ' +
  'or configure default credentials with `aws configure`.';

let server: AwsApiServer;
let cli: CliHome;

useCliHome('bastionless-settings-hint-', (created) => {
  cli = created;
  // No keys, and empty AWS files, so no credential source applies.
  delete cli.env.AWS_ACCESS_KEY_ID;
  delete cli.env.AWS_SECRET_ACCESS_KEY;
  cli.env.AWS_CONFIG_FILE = join(created.home, 'aws-config');
  cli.env.AWS_SHARED_CREDENTIALS_FILE = join(created.home, 'aws-config');
  writeFileSync(cli.env.AWS_CONFIG_FILE, '');
});

beforeAll(async () => {
  server = await startAwsApiServer({});
});

afterAll(async () => {
  await server.close();
});

function stderrLines(stderr: string): string[] {
  return stderr.trimEnd().split('\n');
}

describe('credential hints of AWS commands', () => {
  it('targets names its own --aws-profile', async () => {
    const result = await runCli(['targets', '--endpoint-url', server.endpoint], cli.env);
    expect(result.code).toBe(1);
    expect(stderrLines(result.stderr)).toEqual([
      'bastionless: ERR_NO_CREDENTIALS: No default AWS credentials found',
      FLAGS_HINT,
    ]);
  });

  it('targets suggests another --aws-profile', async () => {
    const result = await runCli(
      ['targets', '--aws-profile', 'nosuch', '--endpoint-url', server.endpoint],
      cli.env,
    );
    expect(result.code).toBe(1);
    const [error, hint] = stderrLines(result.stderr);
    expect(error).toContain('ERR_AWS_PROFILE_NOT_FOUND: AWS profile "nosuch" not found');
    expect(hint).toMatch(/, or pass another --aws-profile\.$/);
    expect(result.stderr).not.toContain('bastionless edit');
  });

  it('targets names the tunnel profile to edit', async () => {
    const endpoints = { ssm: server.endpoint, ec2: server.endpoint };
    const orders = makeProfile({ name: 'orders-db', endpoints });
    writeFileSync(cli.file, JSON.stringify({ version: 2, profiles: [orders] }));
    const result = await runCli(['targets', '--tunnel-profile', 'orders-db'], cli.env);
    expect(result.code).toBe(1);
    const [, hint] = stderrLines(result.stderr);
    expect(hint).toBe(
      'Set an AWS profile with `bastionless edit orders-db --aws-profile PROFILE` ' +
        '(awsProfile), or configure default credentials with `aws configure`.',
    );
  });

  it('profiles push names its own --aws-profile', async () => {
    writeFileSync(cli.file, JSON.stringify({ version: 2, profiles: [makeProfile({})] }));
    const result = await runCli(
      ['profiles', 'push', '--to-ssm', '/team/db', '--endpoint-url', server.endpoint],
      cli.env,
    );
    expect(result.code).toBe(1);
    expect(stderrLines(result.stderr)).toEqual([
      'bastionless: ERR_NO_CREDENTIALS: No default AWS credentials found',
      FLAGS_HINT,
    ]);
  });
});
