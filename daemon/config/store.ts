// The config file on disk: loading with migrations and validation, atomic writes, and a
// watcher that re-applies external edits. A file that fails to parse or validate is never
// overwritten; the store keeps the last good profiles and reports the error instead.
//
// This is a thin layer of its own rather than the `conf` package, because conf 15 runs
// migrations keyed on the package version (`projectVersion`), not on a version stored in the
// file, and, when defaults are set, rewrites the file with them merged in as it opens it.

import { EventEmitter } from 'node:events';
import { readFileSync, watch, mkdirSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Profile } from './types.js';
import { ConfigError } from './errors.js';
import { invalidFailure, parseFailure, readFailure } from './file-errors.js';
import { migrateConfig } from './migrations.js';
import {
  CONFIG_VERSION,
  checkGroupNames,
  checkProfileConflicts,
  shortName,
  validateConfig,
  validateProfile,
} from './schema.js';
import { writeFileAtomic } from './atomic-write.js';
import { withFileLock } from './file-lock.js';

export interface ConfigStoreOptions {
  file: string;
  /** Delay that merges the several change events one save produces, in milliseconds. */
  watchDebounceMs?: number;
}

/** Parses and upgrades config text to the current version; throws ConfigError. */
export function parseConfigText(text: string, file: string): Profile[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw parseFailure(file, text, error);
  }
  const { document } = migrateConfig(raw);
  const { config, issues } = validateConfig(document);
  if (!config) {
    throw invalidFailure(file, issues);
  }
  return config.profiles;
}

/**
 * Events:
 * - `profiles` (profiles: Profile[]): the valid profile set changed, or the file became valid
 *   again after an `invalid` event.
 * - `invalid` (error: ConfigError): the file on disk failed to parse or validate.
 */
export class ConfigStore extends EventEmitter {
  readonly file: string;
  readonly #debounceMs: number;
  #profiles: Profile[] = [];
  #error: ConfigError | null = null;
  #lastText: string | null = null;
  /** True once the file existed at a load, so a later ENOENT means it was moved or deleted. */
  #fileSeen = false;

  constructor(options: ConfigStoreOptions) {
    super();
    this.file = options.file;
    this.#debounceMs = options.watchDebounceMs ?? 100;
  }

  /** Returns ERR_PROFILE_NOT_FOUND for `name`, listing the profiles of the last load. */
  notFoundError(name: string): ConfigError {
    return profileNotFound(name, this.#profiles, this.file, this.#fileSeen);
  }

  /** Last good profiles; the file may be invalid now, see `error`. */
  get profiles(): Profile[] {
    return structuredClone(this.#profiles);
  }

  /** The reason the file on disk is not in use, or null when it is in use. */
  get error(): ConfigError | null {
    return this.#error;
  }

  getProfile(name: string): Profile | undefined {
    const profile = this.#profiles.find((candidate) => candidate.name === name);
    return profile ? structuredClone(profile) : undefined;
  }

  /**
   * Reads the file. A file that never existed means no profiles. An invalid file, and a file
   * that existed at an earlier load and is missing now, keep the last good set.
   */
  load(): Profile[] {
    let text: string | null;
    try {
      text = this.#readText();
    } catch (error) {
      this.#reportInvalid(error as ConfigError);
      return this.profiles;
    }
    this.#lastText = text;
    if (text === null) {
      if (this.#fileSeen) {
        this.#reportInvalid(missingFailure(this.file));
      } else {
        this.#accept([]);
      }
      return this.profiles;
    }
    this.#fileSeen = true;
    try {
      this.#accept(parseConfigText(text, this.file));
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        throw error;
      }
      this.#reportInvalid(error);
    }
    return this.profiles;
  }

  /** Adds a profile; throws ERR_PROFILE_INVALID with field issues, or ERR_PROFILE_EXISTS. */
  create(input: unknown): Profile {
    const profile = this.#validateInput(input);
    this.#mutate((profiles) => {
      if (profiles.some((existing) => existing.name === profile.name)) {
        throw new ConfigError(
          'ERR_PROFILE_EXISTS',
          `profile "${profile.name}" already exists; choose another name or edit it`,
        );
      }
      return { profiles: [...profiles, profile], changed: profile.name };
    });
    return structuredClone(profile);
  }

  /** Replaces the profile called `name`; the input's name, when given, must match. */
  replace(name: string, input: unknown): Profile {
    return this.update(name, () => input);
  }

  /**
   * Replaces the profile called `name` with `change(current profile)`, where the current
   * profile is read from the file while the lock is held, so that two processes editing
   * different fields of one profile both keep their change. The result's name, when given,
   * must match.
   */
  update(name: string, change: (current: Profile) => unknown): Profile {
    let updated: Profile | undefined;
    this.#mutate((profiles) => {
      const index = profiles.findIndex((existing) => existing.name === name);
      if (index === -1) {
        throw profileNotFound(name, profiles, this.file, this.#fileSeen);
      }
      const input = change(structuredClone(profiles[index]!));
      const withName = isRecord(input) && input.name === undefined ? { ...input, name } : input;
      const profile = this.#validateInput(withName);
      if (profile.name !== name) {
        throw new ConfigError(
          'ERR_PROFILE_INVALID',
          `profile "${shortName(name)}": name cannot be changed; remove and re-add it`,
          {
            fields: [{ path: 'name', message: `expected "${shortName(name)}" or no name` }],
          },
        );
      }
      const next = [...profiles];
      next[index] = profile;
      updated = profile;
      return { profiles: next, changed: name };
    });
    return structuredClone(updated!);
  }

  remove(name: string): void {
    this.#mutate((profiles) => {
      if (!profiles.some((existing) => existing.name === name)) {
        throw profileNotFound(name, profiles, this.file, this.#fileSeen);
      }
      return { profiles: profiles.filter((existing) => existing.name !== name) };
    });
  }

  /** Re-applies edits made by other programs; returns a function that stops watching. */
  watch(): () => void {
    const dir = dirname(this.file);
    const name = basename(this.file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let timer: NodeJS.Timeout | undefined;
    // The directory is watched, not the file, because atomic saves replace the file's inode.
    const watcher: FSWatcher = watch(dir, { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) {
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(() => this.#reloadIfChanged(), this.#debounceMs);
      timer.unref();
    });
    watcher.on('error', (error) => {
      this.#reportInvalid(
        new ConfigError(
          'ERR_CONFIG_READ',
          `watching ${dir} failed (${error.message}); restart the daemon to pick up edits`,
          {
            cause: error,
          },
        ),
      );
    });
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }

  #reloadIfChanged(): void {
    let text: string | null;
    try {
      text = this.#readText();
    } catch (error) {
      this.#reportInvalid(error as ConfigError);
      return;
    }
    if (text !== this.#lastText || this.#error !== null) {
      this.load();
    }
  }

  #readText(): string | null {
    try {
      return readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return null;
      }
      throw readFailure(this.file, error);
    }
  }

  #validateInput(input: unknown): Profile {
    const { profile, issues } = validateProfile(input);
    if (!profile) {
      throw new ConfigError('ERR_PROFILE_INVALID', issues[0]?.message ?? 'profile is invalid', {
        fields: issues,
      });
    }
    return profile;
  }

  /**
   * Applies a change to the profiles currently on disk, then writes the result atomically.
   * The read, the change and the write run under the config file's lock, so a writer in
   * another process (the daemon, a CLI command) starts from the changes of the writers before
   * it. A file that existed at load and is missing now is not written, because writing it
   * would drop every profile it had.
   */
  #mutate(change: (profiles: Profile[]) => ProfileChange): void {
    // An unreadable file gets its own error and fix before the lock is taken, because the
    // lock file's folder may not be writable either. Only the read inside the lock is used.
    this.#readText();
    const written = withFileLock(this.file, () => {
      const text = this.#readText();
      if (text === null && this.#fileSeen) {
        throw missingFailure(this.file);
      }

      if (text !== null) {
        this.#fileSeen = true;
      }
      const current = text === null ? [] : parseConfigText(text, this.file);
      const result = change(current);
      throwOnConflicts(result);

      const output = `${JSON.stringify({ version: CONFIG_VERSION, profiles: result.profiles }, null, 2)}\n`;
      try {
        writeFileAtomic(this.file, output);
      } catch (error) {
        throw new ConfigError(
          'ERR_CONFIG_WRITE',
          `writing ${this.file} failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      this.#lastText = output;
      this.#fileSeen = true;
      return result.profiles;
    });
    this.#accept(written);
  }

  #accept(profiles: Profile[]): void {
    const recovered = this.#error !== null;
    this.#error = null;
    if (!recovered && JSON.stringify(profiles) === JSON.stringify(this.#profiles)) {
      return;
    }
    this.#profiles = profiles;
    this.emit('profiles', this.profiles);
  }

  #reportInvalid(error: ConfigError): void {
    this.#error = error;
    this.emit('invalid', error);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The profiles a change writes, and the name of the profile it added or replaced. */
interface ProfileChange {
  profiles: Profile[];
  changed?: string;
}

/**
 * Throws ERR_PROFILE_INVALID when the changed profiles share a name, a local port, or a name
 * between a group and a profile. The changed profile is checked last, so each message names
 * it first and the profile it collides with second.
 */
function throwOnConflicts({ profiles, changed }: ProfileChange): void {
  const ordered =
    changed === undefined
      ? profiles
      : [
          ...profiles.filter((profile) => profile.name !== changed),
          ...profiles.filter((profile) => profile.name === changed),
        ];
  const last = ordered.length - 1;
  // A group clash already in the file does not block other writes: only the changed profile's.
  const groupClashes = checkGroupNames(ordered).filter(
    (issue) => changed === undefined || issue.path.startsWith(`profiles[${last}].`),
  );
  const conflicts = [...checkProfileConflicts(ordered), ...groupClashes];
  if (conflicts.length === 0) {
    return;
  }
  // The positions refer to the reordered list, so the field paths keep only the field.
  throw new ConfigError('ERR_PROFILE_INVALID', conflicts[0]!.message, {
    fields: conflicts.map((issue) => ({
      ...issue,
      path: issue.path.replace(/^profiles\[\d+\]\./, ''),
    })),
  });
}

/** Returns the ERR_CONFIG_MISSING error for a file that existed at an earlier load. */
function missingFailure(file: string): ConfigError {
  const fix = 'restore it, or write {"version": 2, "profiles": []} into it to remove every profile';
  return new ConfigError(
    'ERR_CONFIG_MISSING',
    `config file ${file} is missing, so the last profiles read from it stay in use; ${fix}`,
    { reason: 'the file is missing', fix },
  );
}

/**
 * Returns ERR_PROFILE_NOT_FOUND with the profile names the file has, because listing them
 * needs no running daemon.
 */
function profileNotFound(
  name: string,
  profiles: Profile[],
  file: string,
  fileSeen: boolean,
): ConfigError {
  const label = `profile "${shortName(name)}" not found`;
  if (profiles.length === 0) {
    const problem = fileSeen
      ? `${label}, because config file ${file} has no profiles`
      : `${label}, because config file ${file} does not exist yet`;
    return new ConfigError('ERR_PROFILE_NOT_FOUND', `${problem}; add one with \`bastionless add\``);
  }
  const names = profiles.map((profile) => profile.name).join(', ');
  return new ConfigError(
    'ERR_PROFILE_NOT_FOUND',
    `${label} in ${file}; use one of its profiles: ${names}`,
  );
}
