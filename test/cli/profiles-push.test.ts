// `bastionless profiles push` against the emulated Parameter Store: --prune, the report of
// parameters without a local profile, an empty push and an invalid path.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Profile } from '../../daemon/config/types.js';
import { startAwsApiServer, type AwsApiServer } from '../aws/helpers/aws-api-server.js';
import { makeProfile } from '../aws/helpers/fixtures.js';
import { cliEnv, runCli, useCliHome, type CliHome } from './helpers.js';

const ORDERS = makeProfile({ name: 'orders-db', localPort: 15432 });
const CACHE = makeProfile({ name: 'cache', remotePort: 6379, localPort: 16379 });

let server: AwsApiServer;
let cli: CliHome;

useCliHome('bastionless-profiles-push-', (created) => {
  cli = created;
});

beforeAll(async () => {
  server = await startAwsApiServer({});
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.state.scenario.parameters = [];
});

function writeProfiles(file: string, profiles: Profile[]): void {
  writeFileSync(file, JSON.stringify({ version: 2, profiles }));
}

function readProfileNames(file: string): string[] {
  const config = JSON.parse(readFileSync(file, 'utf8')) as { profiles: Profile[] };
  return config.profiles.map((profile) => profile.name);
}

function parameterNames(): string[] {
  return server.state.scenario.parameters.map((parameter) => parameter.name).sort();
}

function profiles(env: NodeJS.ProcessEnv, ...args: string[]) {
  return runCli(['profiles', ...args, '--endpoint-url', server.endpoint], env);
}

describe('bastionless profiles push', () => {
  it('reports a parameter without a local profile', async () => {
    writeProfiles(cli.file, [ORDERS, CACHE]);
    expect((await profiles(cli.env, 'push', '--to-ssm', '/team/db')).code).toBe(0);
    writeProfiles(cli.file, [ORDERS]);

    const result = await profiles(cli.env, 'push', '--to-ssm', '/team/db');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'wrote /team/db/orders-db',
      'kept /team/db/cache: it has no local profile, so teammates still pull it',
      'delete it with `bastionless profiles push --to-ssm /team/db --prune`',
    ]);
    expect(parameterNames()).toEqual(['/team/db/cache', '/team/db/orders-db']);
  });

  it('deletes it with --prune', async () => {
    writeProfiles(cli.file, [ORDERS, CACHE]);
    expect((await profiles(cli.env, 'push', '--to-ssm', '/team/db')).code).toBe(0);
    // Parameters below PATH and beside it are not profiles of PATH, so prune leaves them.
    server.state.scenario.parameters.push(
      { name: '/team/db/archive/old', value: '{}', type: 'String' },
      { name: '/team/web/web', value: '{}', type: 'String' },
    );
    writeProfiles(cli.file, [ORDERS]);

    const result = await profiles(cli.env, 'push', '--to-ssm', '/team/db', '--prune');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'wrote /team/db/orders-db',
      'deleted /team/db/cache: it has no local profile',
    ]);
    expect(parameterNames()).toEqual([
      '/team/db/archive/old',
      '/team/db/orders-db',
      '/team/web/web',
    ]);
  });

  it('prunes more than one batch', async () => {
    const many = Array.from({ length: 12 }, (_, index) =>
      makeProfile({ name: `svc-${String(index).padStart(2, '0')}`, localPort: 20000 + index }),
    );
    writeProfiles(cli.file, [ORDERS, ...many]);
    expect((await profiles(cli.env, 'push', '--to-ssm', '/team/many')).code).toBe(0);
    writeProfiles(cli.file, [ORDERS]);

    const result = await profiles(cli.env, 'push', '--to-ssm', '/team/many', '--prune');
    expect(result.code).toBe(0);
    const deleted = result.stdout.split('\n').filter((line) => line.startsWith('deleted '));
    expect(deleted).toHaveLength(12);
    expect(parameterNames()).toEqual(['/team/many/orders-db']);
  });

  it('removes a pruned profile from a teammate', async () => {
    const teammateHome = join(cli.home, 'teammate');
    mkdirSync(teammateHome);
    const teammate = cliEnv(teammateHome);
    const teammateFile = join(teammateHome, 'config.json');
    writeProfiles(cli.file, [ORDERS, CACHE]);
    expect((await profiles(cli.env, 'push', '--to-ssm', '/team/db')).code).toBe(0);
    writeProfiles(teammateFile, []);
    expect((await profiles(teammate, 'pull', '--from-ssm', '/team/db')).code).toBe(0);
    expect(readProfileNames(teammateFile)).toEqual(['cache', 'orders-db']);

    writeProfiles(cli.file, [ORDERS]);
    expect((await profiles(cli.env, 'push', '--to-ssm', '/team/db', '--prune')).code).toBe(0);
    const pulled = await profiles(teammate, 'pull', '--from-ssm', '/team/db');
    expect(pulled.stdout).toContain('0 added, 0 updated, 1 removed');
    expect(readProfileNames(teammateFile)).toEqual(['orders-db']);
  });

  it('says when there is nothing to write', async () => {
    writeProfiles(cli.file, []);
    const result = await profiles(cli.env, 'push', '--to-ssm', '/team/db');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`nothing to write to /team/db: ${cli.file} has no profiles\n`);
  });

  it('rejects --prune without local profiles', async () => {
    writeProfiles(cli.file, [ORDERS]);
    expect((await profiles(cli.env, 'push', '--to-ssm', '/team/db')).code).toBe(0);
    writeProfiles(cli.file, []);

    const result = await profiles(cli.env, 'push', '--to-ssm', '/team/db', '--prune');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--prune would delete every parameter under /team/db');
    expect(result.stderr).toContain(`${cli.file} has no profiles`);
    expect(parameterNames()).toEqual(['/team/db/orders-db']);
  });

  it('rejects --prune with pull', async () => {
    writeProfiles(cli.file, [ORDERS]);
    const result = await profiles(cli.env, 'pull', '--from-ssm', '/team/db', '--prune');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bastionless: --prune applies to push only; see `bastionless profiles --help`\n',
    );
  });

  it('rejects an invalid path naming the option', async () => {
    writeProfiles(cli.file, [ORDERS]);
    for (const [verb, flag] of [
      ['push', '--to-ssm'],
      ['pull', '--from-ssm'],
    ] as const) {
      const result = await profiles(cli.env, verb, flag, 'team/db');
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `bastionless: invalid ${flag} team/db: must be an absolute Parameter Store path of ` +
          'letters, digits, _ . - and /, such as /team/db; see `bastionless profiles --help`\n',
      );
    }
    expect(parameterNames()).toEqual([]);
  });

  it('documents --prune in the help', async () => {
    const result = await runCli(['profiles', '--help'], cli.env);
    expect(result.stdout).toContain('push never deletes a parameter unless --prune is given');
    expect(result.stdout).toContain('  --prune ');
  });
});
