import type { Profile } from './types.js';

/** Format marker of exported files, so an import can reject unrelated JSON. */
export const EXPORT_FORMAT = 'bastionless-profiles';
export const EXPORT_VERSION = 1;
/**
 * Newest version of the daemon's config file (`{"version": 2, "profiles": [...]}`) whose
 * profiles an import accepts. The daemon validates each profile, so an older file's profiles
 * in a shape the daemon no longer takes fail with field errors.
 */
export const CONFIG_FILE_VERSION = 2;

/** Serializes profiles for download, sorted by name so exports diff cleanly. */
export function exportProfiles(profiles: readonly Profile[]): string {
  const sorted = [...profiles].sort((a, b) => a.name.localeCompare(b.name));
  const file = { format: EXPORT_FORMAT, version: EXPORT_VERSION, profiles: sorted };
  return `${JSON.stringify(file, null, 2)}\n`;
}

export interface ImportResult {
  /** Profile objects to send to the daemon, which validates every field. */
  profiles: Record<string, unknown>[];
  /** Problems that stop an entry from being sent at all, one sentence each. */
  errors: string[];
}

/**
 * Parses an exported file, the daemon's config file, or a bare JSON array of profiles. Entries
 * without a string `name` are reported and skipped, and field validation is left to the daemon.
 * A file without the `format` marker is read as a config file.
 */
export function parseProfileImport(text: string): ImportResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { profiles: [], errors: [`The file is not valid JSON: ${(error as Error).message}.`] };
  }
  let list: unknown;
  if (Array.isArray(value)) {
    list = value;
  } else if (value && typeof value === 'object' && 'profiles' in value) {
    const file = value as { format?: unknown; version?: unknown; profiles: unknown };
    if (file.format !== undefined && file.format !== EXPORT_FORMAT) {
      return {
        profiles: [],
        errors: [`Unknown format "${String(file.format)}"; expected "${EXPORT_FORMAT}".`],
      };
    }
    const isExport = file.format === EXPORT_FORMAT;
    const newest = isExport ? EXPORT_VERSION : CONFIG_FILE_VERSION;
    if (typeof file.version === 'number' && file.version > newest) {
      const kind = isExport ? 'export file' : 'config file';
      return {
        profiles: [],
        errors: [
          `The ${kind} has version ${file.version}, but this dashboard reads versions up to ` +
            `${newest}. Update bastionless, then import the file again.`,
        ],
      };
    }
    list = file.profiles;
  }
  if (!Array.isArray(list)) {
    return {
      profiles: [],
      errors: ['Expected a JSON array of profiles or an object with a "profiles" array.'],
    };
  }
  const profiles: Record<string, unknown>[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  list.forEach((entry, index) => {
    const name = (entry as { name?: unknown } | null)?.name;
    if (!entry || typeof entry !== 'object' || typeof name !== 'string' || !name.trim()) {
      errors.push(`Entry ${index + 1} has no "name" and was skipped.`);
    } else if (seen.has(name)) {
      errors.push(`Entry ${index + 1} repeats the name "${name}" and was skipped.`);
    } else {
      seen.add(name);
      profiles.push(entry as Record<string, unknown>);
    }
  });
  return { profiles, errors };
}
