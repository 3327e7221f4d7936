// `profiles pull` and `profiles push`: share profiles with a team through SSM Parameter Store.

import {
  DeleteParametersCommand,
  GetParametersByPathCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import {
  createMergeBaseStore,
  normalizeParameterPath,
  pullTeamProfiles,
  pushTeamProfiles,
  type MergeResult,
} from '../aws/team-profiles.js';
import { ConfigStore } from '../config/store.js';
import type { Profile } from '../config/types.js';
import { BastionlessError } from '../errors.js';
import { invalidOption, parseCommandArgs, stringOption, type ParsedArgs } from './args.js';
import { pathsFor, print, type Command } from './command.js';
import { CliError, configFileError, EXIT_USAGE } from './errors.js';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  clientsFromOptions,
  findProfile,
  flagsContext,
  withSettingsHint,
} from './commands/aws-support.js';

const HELP = `Usage: bastionless profiles pull --from-ssm PATH [options]
       bastionless profiles push --to-ssm PATH [PROFILE...] [--prune] [options]

pull reads one profile per parameter under PATH (JSON values) and merges them into the
local profiles against the copy from the last pull or push: a field changed on one side
only takes that side's value, a field changed on both keeps the local value, and each such
conflict is printed.
push writes the given profiles, or every profile, to PATH/NAME, replacing older values.
push never deletes a parameter unless --prune is given, so a profile removed locally stays
in PATH, and teammates keep pulling it. push lists each such parameter.

PATH is an absolute Parameter Store path of letters, digits, _ . - and /, e.g. /team/db.

  --prune              with push: delete each parameter directly under PATH that has no
                       local profile, including one a teammate pushed that was never
                       pulled here, so pull first
${AWS_OPTIONS_HELP}

Examples:
  bastionless profiles pull --from-ssm /team/db --region eu-west-1
  bastionless profiles push --to-ssm /team/db orders-db
  bastionless profiles push --to-ssm /team/db --prune`;

// DeleteParameters accepts at most 10 names per request.
const DELETE_BATCH_SIZE = 10;

function applyMerge(store: ConfigStore, result: MergeResult): void {
  for (const name of result.removed) {
    store.remove(name);
  }
  const byName = new Map(result.profiles.map((profile) => [profile.name, profile]));
  for (const name of result.updated) {
    store.replace(name, byName.get(name));
  }
  for (const name of result.added) {
    store.create(byName.get(name));
  }
}

/**
 * Rejects an invalid Parameter Store path as a usage error that names the option and the
 * rule, before any AWS call. normalizeParameterPath owns the rule.
 */
function checkParameterPath(flag: 'from-ssm' | 'to-ssm', path: string): void {
  try {
    normalizeParameterPath(path);
  } catch (error) {
    if (!(error instanceof BastionlessError)) {
      throw error;
    }
    throw invalidOption(
      'profiles',
      flag,
      path,
      'an absolute Parameter Store path of letters, digits, _ . - and /, such as /team/db',
    );
  }
}

interface SyncContext {
  path: string;
  stateDir: string;
  store: ConfigStore;
  profiles: Profile[];
}

/** Reads the required PATH option and the local profiles; an invalid config file stops here. */
function loadSyncContext(args: ParsedArgs, flag: 'from-ssm' | 'to-ssm'): SyncContext {
  const path = stringOption(args, flag);
  if (!path) {
    throw new CliError(`missing --${flag} PATH; see \`bastionless profiles --help\``, EXIT_USAGE);
  }
  checkParameterPath(flag, path);
  const paths = pathsFor(args);
  const store = new ConfigStore({ file: paths.configFile });
  const profiles = store.load();
  if (store.error) {
    // Only pull writes the file, so only pull reports the file as left unchanged.
    throw configFileError(store.error, { leftUnchanged: flag === 'from-ssm' });
  }
  return { path, stateDir: paths.stateDir, store, profiles };
}

async function pull(args: ParsedArgs): Promise<number> {
  const { path, stateDir, store, profiles: local } = loadSyncContext(args, 'from-ssm');
  const clients = clientsFromOptions('profiles', args);
  try {
    const baseStore = createMergeBaseStore(stateDir);
    const { result, commit, remoteCount } = await pullTeamProfiles({
      ssm: clients.ssm,
      path,
      local,
      baseStore,
    });
    // An empty path is almost always a typo, and merging it would remove every unedited
    // profile an earlier pull brought in, so the config stays as it is.
    if (remoteCount === 0) {
      throw new CliError(
        `no shared profiles found under ${path}; check the path and the region, or run ` +
          `\`bastionless profiles push --to-ssm ${path}\` first`,
      );
    }
    applyMerge(store, result);
    await commit();
    print(
      `pulled ${path}: ${result.added.length} added, ${result.updated.length} updated, ${result.removed.length} removed`,
    );
    for (const conflict of result.conflicts) {
      const where = conflict.field ? `${conflict.profile}.${conflict.field}` : conflict.profile;
      print(`conflict: ${where}: ${conflict.detail}`);
    }
    return 0;
  } finally {
    clients.destroy();
  }
}

/** Lists the names of the parameters directly under `path`, as pull reads them. */
async function listParameterNames(ssm: SSMClient, path: string): Promise<string[]> {
  const prefix = normalizeParameterPath(path);
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({ Path: prefix, Recursive: false, NextToken: nextToken }),
    );
    for (const parameter of page.Parameters ?? []) {
      if (parameter.Name !== undefined) {
        names.push(parameter.Name);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return names.sort();
}

/** Deletes `names` in batches and returns the names the service deleted. */
async function deleteParameters(ssm: SSMClient, names: readonly string[]): Promise<string[]> {
  const deleted: string[] = [];
  for (let start = 0; start < names.length; start += DELETE_BATCH_SIZE) {
    const batch = names.slice(start, start + DELETE_BATCH_SIZE);
    const reply = await ssm.send(new DeleteParametersCommand({ Names: batch }));
    deleted.push(...(reply.DeletedParameters ?? []));
  }
  return deleted;
}

/**
 * Reports the parameters under the path that have no local profile. With --prune they are
 * deleted and each deletion is printed; without it each one is listed with the command that
 * deletes it. Returns the deleted names.
 */
async function pruneOrReport(
  ssm: SSMClient,
  path: string,
  profiles: readonly Profile[],
  prune: boolean,
): Promise<string[]> {
  const prefix = normalizeParameterPath(path);
  const localNames = new Set(profiles.map((profile) => `${prefix}${profile.name}`));
  const orphans = (await listParameterNames(ssm, path)).filter((name) => !localNames.has(name));
  if (!prune) {
    for (const name of orphans) {
      print(`kept ${name}: it has no local profile, so teammates still pull it`);
    }
    if (orphans.length > 0) {
      print(
        `delete ${orphans.length === 1 ? 'it' : 'them'} with ` +
          `\`bastionless profiles push --to-ssm ${path} --prune\``,
      );
    }
    return [];
  }
  const deleted = await deleteParameters(ssm, orphans);
  for (const name of deleted) {
    print(`deleted ${name}: it has no local profile`);
  }
  return deleted;
}

async function push(args: ParsedArgs): Promise<number> {
  const { path, stateDir, store, profiles } = loadSyncContext(args, 'to-ssm');
  const prune = args.values.prune === true;
  // With no local profiles, --prune would empty the path, which is far more often a wrong
  // BASTIONLESS_HOME or --config than the intent.
  if (prune && profiles.length === 0) {
    throw new CliError(
      `--prune would delete every parameter under ${path}, because ${store.file} has no ` +
        'profiles; check --config and BASTIONLESS_HOME',
    );
  }
  const names = args.positionals.slice(1);
  const selected = names.length === 0 ? profiles : names.map((name) => findProfile(profiles, name));
  const clients = clientsFromOptions('profiles', args);
  try {
    const written = await pushTeamProfiles(clients.ssm, path, selected);
    for (const name of written) {
      print(`wrote ${name}`);
    }
    const deleted = await pruneOrReport(clients.ssm, path, profiles, prune);
    // The pushed profiles are now the shared copy, so they replace their entries in the merge
    // base of the next pull, and deleted parameters leave it. Other profiles keep their entry.
    const baseStore = createMergeBaseStore(stateDir);
    const prefix = normalizeParameterPath(path);
    const replaced = new Set([
      ...selected.map((profile) => profile.name),
      ...deleted.map((name) => name.slice(prefix.length)),
    ]);
    const base = (await baseStore.read(path)).filter((profile) => !replaced.has(profile.name));
    await baseStore.write(path, [...base, ...selected]);
    if (written.length === 0 && deleted.length === 0) {
      print(`nothing to write to ${path}: ${store.file} has no profiles`);
    }
    return 0;
  } finally {
    clients.destroy();
  }
}

export const profilesCommand: Command = {
  name: 'profiles',
  summary: 'pull or push team profiles through SSM Parameter Store',
  help: HELP,
  async run(argv) {
    const args = parseCommandArgs('profiles', argv, {
      ...AWS_OPTIONS,
      'from-ssm': { type: 'string' },
      'to-ssm': { type: 'string' },
      prune: { type: 'boolean' },
    });
    const action = args.positionals[0];
    if (action === 'pull' && args.values.prune === true) {
      throw new CliError(
        '--prune applies to push only; see `bastionless profiles --help`',
        EXIT_USAGE,
      );
    }
    if (action === 'pull' || action === 'push') {
      try {
        return await (action === 'pull' ? pull(args) : push(args));
      } catch (error) {
        throw withSettingsHint(error, flagsContext(args));
      }
    }
    throw new CliError(
      `expected "pull" or "push", got ${JSON.stringify(action ?? '')}; see \`bastionless profiles --help\``,
      EXIT_USAGE,
    );
  },
};
