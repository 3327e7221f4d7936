// Team profiles shared through SSM Parameter Store: one String parameter per profile under a
// path, holding the profile as JSON. Pull merges them into the local profiles with a
// three-way merge against the last pulled or pushed copy (the base), so local edits survive.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  GetParametersByPathCommand,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { writeFileAtomic } from '../config/atomic-write.js';
import { validateProfile } from '../config/schema.js';
import type { Profile } from '../config/types.js';
import { BastionlessError } from '../errors.js';

export interface MergeConflict {
  profile: string;
  /** Field both sides changed; absent when the whole profile conflicts. */
  field?: string;
  /** Outcome in words, e.g. "changed locally and in SSM; kept the local value". */
  detail: string;
}

export interface MergeResult {
  profiles: Profile[];
  added: string[];
  updated: string[];
  removed: string[];
  conflicts: MergeConflict[];
}

type ProfileMap = Map<string, Profile>;

function byName(profiles: Profile[]): ProfileMap {
  return new Map(profiles.map((profile) => [profile.name, profile]));
}

/** Merges field by field: a side that left a field as in the base takes the other side's value. */
function mergeFields(
  base: Profile | undefined,
  local: Profile,
  remote: Profile,
  conflicts: MergeConflict[],
): Profile {
  const merged: Record<string, unknown> = {};
  const baseFields = (base ?? {}) as Record<string, unknown>;
  const localFields = local as unknown as Record<string, unknown>;
  const remoteFields = remote as unknown as Record<string, unknown>;
  const fields = new Set([...Object.keys(localFields), ...Object.keys(remoteFields)]);
  for (const field of fields) {
    const localValue = localFields[field];
    const remoteValue = remoteFields[field];
    let value = localValue;
    if (isDeepStrictEqual(localValue, baseFields[field]) && base !== undefined) {
      value = remoteValue;
    } else if (
      !isDeepStrictEqual(localValue, remoteValue) &&
      !isDeepStrictEqual(remoteValue, baseFields[field])
    ) {
      conflicts.push({
        profile: local.name,
        field,
        detail:
          `changed locally and in SSM; kept the local value ${JSON.stringify(localValue)}, ` +
          `not ${JSON.stringify(remoteValue)} from SSM`,
      });
    }
    if (value !== undefined) {
      merged[field] = value;
    }
  }
  return merged as unknown as Profile;
}

/**
 * Three-way merge of local profiles with the team's profiles in SSM. Local wins every
 * conflict and each conflict is reported. Profile order follows the local list, then new
 * remote profiles sorted by name.
 */
export function mergeProfiles(base: Profile[], local: Profile[], remote: Profile[]): MergeResult {
  const baseMap = byName(base);
  const remoteMap = byName(remote);
  const result: MergeResult = { profiles: [], added: [], updated: [], removed: [], conflicts: [] };

  for (const localProfile of local) {
    const name = localProfile.name;
    const baseProfile = baseMap.get(name);
    const remoteProfile = remoteMap.get(name);
    if (!remoteProfile) {
      if (baseProfile && isDeepStrictEqual(baseProfile, localProfile)) {
        result.removed.push(name);
        continue;
      }
      if (baseProfile) {
        result.conflicts.push({
          profile: name,
          detail: 'removed in SSM but changed locally; kept the local profile',
        });
      }
      result.profiles.push(localProfile);
      continue;
    }
    const merged = mergeFields(baseProfile, localProfile, remoteProfile, result.conflicts);
    if (!isDeepStrictEqual(merged, localProfile)) {
      result.updated.push(name);
    }
    result.profiles.push(merged);
  }

  const localNames = new Set(local.map((profile) => profile.name));
  const newRemote = remote
    .filter((profile) => !localNames.has(profile.name))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const remoteProfile of newRemote) {
    const baseProfile = baseMap.get(remoteProfile.name);
    if (!baseProfile) {
      result.added.push(remoteProfile.name);
      result.profiles.push(remoteProfile);
    } else if (!isDeepStrictEqual(baseProfile, remoteProfile)) {
      result.conflicts.push({
        profile: remoteProfile.name,
        detail: 'removed locally but changed in SSM; kept it removed',
      });
    }
  }
  return result;
}

/** Checks a Parameter Store path and returns it with one trailing slash. */
export function normalizeParameterPath(path: string): string {
  if (!/^\/[A-Za-z0-9_.\-/]*$/.test(path)) {
    throw new BastionlessError(
      'ERR_CONFIG_INVALID',
      `Invalid SSM parameter path ${JSON.stringify(path)}.`,
      {
        hint: 'Use an absolute path of letters, digits, _ . - and /, for example /team/bastionless/.',
      },
    );
  }
  return path.endsWith('/') ? path : `${path}/`;
}

function parseParameter(name: string, value: string): Profile {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (error) {
    throw new BastionlessError('ERR_CONFIG_PARSE', `SSM parameter ${name} is not valid JSON.`, {
      hint: `Fix or delete the parameter, for example: aws ssm get-parameter --name ${name}`,
      cause: error,
    });
  }
  const { profile, issues } = validateProfile(raw);
  if (!profile) {
    throw new BastionlessError(
      'ERR_CONFIG_INVALID',
      `SSM parameter ${name} is not a valid profile: ${issues[0]?.message ?? 'invalid'}.`,
      { hint: 'Fix the profile in SSM, or push a valid one with bastionless profiles push.' },
    );
  }
  return profile;
}

/** Reads every profile directly under `path` (not recursive). */
export async function fetchTeamProfiles(ssm: SSMClient, path: string): Promise<Profile[]> {
  const prefix = normalizeParameterPath(path);
  const profiles: Profile[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({ Path: prefix, Recursive: false, NextToken: nextToken }),
    );
    for (const parameter of page.Parameters ?? []) {
      profiles.push(parseParameter(parameter.Name ?? '', parameter.Value ?? ''));
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return profiles.sort((a, b) => a.name.localeCompare(b.name));
}

/** Writes each profile to `${path}${name}`, replacing the previous value. */
export async function pushTeamProfiles(
  ssm: SSMClient,
  path: string,
  profiles: Profile[],
): Promise<string[]> {
  const prefix = normalizeParameterPath(path);
  const names: string[] = [];
  for (const profile of profiles) {
    const name = `${prefix}${profile.name}`;
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: JSON.stringify(profile),
        Type: 'String',
        Overwrite: true,
      }),
    );
    names.push(name);
  }
  return names;
}

/** The merge base per parameter path, kept in `team-profiles-base.json` of the state directory. */
export interface MergeBaseStore {
  read(path: string): Promise<Profile[]>;
  write(path: string, profiles: Profile[]): Promise<void>;
}

export function createMergeBaseStore(stateDir: string): MergeBaseStore {
  const file = join(stateDir, 'team-profiles-base.json');
  async function readAll(): Promise<Record<string, Profile[]>> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Record<string, Profile[]>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return {};
      }
      throw error;
    }
  }
  return {
    async read(path) {
      return (await readAll())[normalizeParameterPath(path)] ?? [];
    },
    async write(path, profiles) {
      const all = await readAll();
      all[normalizeParameterPath(path)] = profiles;
      writeFileAtomic(file, `${JSON.stringify(all, null, 2)}\n`);
    },
  };
}

/**
 * Pulls the team profiles at `path` and merges them into `local`. The caller applies
 * `result.profiles` to the config and then calls `commit()`, which stores the pulled copy as
 * the next merge base.
 */
export async function pullTeamProfiles(options: {
  ssm: SSMClient;
  path: string;
  local: Profile[];
  baseStore: MergeBaseStore;
}): Promise<{ result: MergeResult; commit: () => Promise<void>; remoteCount: number }> {
  const remote = await fetchTeamProfiles(options.ssm, options.path);
  const base = await options.baseStore.read(options.path);
  const result = mergeProfiles(base, options.local, remote);
  return {
    result,
    commit: () => options.baseStore.write(options.path, remote),
    remoteCount: remote.length,
  };
}
