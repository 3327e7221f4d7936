// `profiles pull` and `profiles push`: share profiles with a team through SSM Parameter Store.

import {
  createMergeBaseStore,
  pullTeamProfiles,
  pushTeamProfiles,
  type MergeResult,
} from '../aws/team-profiles.js';
import { ConfigStore } from '../config/store.js';
import type { Profile } from '../config/types.js';
import { parseCommandArgs, stringOption, type ParsedArgs } from './args.js';
import { pathsFor, print, type Command } from './command.js';
import { CliError, configFileError, EXIT_USAGE } from './errors.js';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  clientsFromOptions,
  findProfile,
} from './commands/aws-support.js';

const HELP = `Usage: bastionless profiles pull --from-ssm PATH [options]
       bastionless profiles push --to-ssm PATH [PROFILE...] [options]

pull reads one profile per parameter under PATH (JSON values) and merges them into the
local profiles against the copy from the last pull or push: a field changed on one side
only takes that side's value, a field changed on both keeps the local value, and each such
conflict is printed.
push writes the given profiles, or every profile, to PATH/NAME, replacing older values.

${AWS_OPTIONS_HELP}`;

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

async function push(args: ParsedArgs): Promise<number> {
  const { path, stateDir, profiles } = loadSyncContext(args, 'to-ssm');
  const names = args.positionals.slice(1);
  const selected = names.length === 0 ? profiles : names.map((name) => findProfile(profiles, name));
  const clients = clientsFromOptions('profiles', args);
  try {
    const written = await pushTeamProfiles(clients.ssm, path, selected);
    // The pushed profiles are now the shared copy, so they replace their entries in the merge
    // base of the next pull. Profiles that were not pushed keep their base entry.
    const baseStore = createMergeBaseStore(stateDir);
    const pushedNames = new Set(selected.map((profile) => profile.name));
    const base = (await baseStore.read(path)).filter((profile) => !pushedNames.has(profile.name));
    await baseStore.write(path, [...base, ...selected]);
    for (const name of written) {
      print(`wrote ${name}`);
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
    });
    const action = args.positionals[0];
    if (action === 'pull') {
      return pull(args);
    }
    if (action === 'push') {
      return push(args);
    }
    throw new CliError(
      `expected "pull" or "push", got ${JSON.stringify(action ?? '')}; see \`bastionless profiles --help\``,
      EXIT_USAGE,
    );
  },
};
