import { ApiError, type ApiClient } from './api.js';
import type { ImportResult } from './profile-io.js';

/** A parsed import file split by whether each profile name already exists. */
export interface ImportPlan {
  /** Profiles whose names no local profile has. */
  added: Record<string, unknown>[];
  /** Profiles that would replace the local profile of the same name. */
  replaced: Record<string, unknown>[];
  /** Problems found while parsing, one sentence each. */
  errors: string[];
}

/** Outcome of an import for the page's status line: a summary and one line per problem. */
export interface ImportOutcome {
  summary: string;
  details: string[];
  failed: boolean;
}

/** Splits the parsed profiles into new ones and ones that would replace a local profile. */
export function planImport(parsed: ImportResult, existingNames: Iterable<string>): ImportPlan {
  const existing = new Set(existingNames);
  const plan: ImportPlan = { added: [], replaced: [], errors: [...parsed.errors] };
  for (const entry of parsed.profiles) {
    if (existing.has(entry.name as string)) plan.replaced.push(entry);
    else plan.added.push(entry);
  }
  return plan;
}

function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Summarizes an import, such as "Added 2 profiles, replaced 1." or, when nothing was saved,
 * "No profile was imported."
 */
export function importSummary(added: number, replaced: number, unchanged: number): string {
  if (added === 0 && replaced === 0) {
    return unchanged > 0
      ? `No profile was imported, and ${countOf(unchanged, 'existing profile')} stayed unchanged.`
      : 'No profile was imported.';
  }
  const parts = [`Added ${countOf(added, 'profile')}`];
  if (replaced > 0) parts.push(`replaced ${replaced}`);
  if (unchanged > 0) parts.push(`kept ${unchanged} existing unchanged`);
  return `${parts.join(', ')}.`;
}

function rejectionDetail(error: unknown): string {
  const fields = error instanceof ApiError ? error.fields : [];
  if (fields.length === 0) return (error as Error).message;
  return fields.map((field) => `${field.path}: ${field.message}`).join('; ');
}

/**
 * Sends the plan's profiles to the daemon: every new one, and the replacing ones only when
 * `replace` is true. Each profile is saved on its own, so one rejected profile does not stop
 * the others, and its rejection becomes one line of the outcome's details.
 */
export async function applyImport(
  api: ApiClient,
  plan: ImportPlan,
  replace: boolean,
): Promise<ImportOutcome> {
  const details = [...plan.errors];
  let added = 0;
  let replaced = 0;
  for (const entry of plan.added) {
    try {
      await api.createProfile(entry);
      added += 1;
    } catch (error) {
      details.push(`Profile "${String(entry.name)}" was not added: ${rejectionDetail(error)}`);
    }
  }
  if (replace) {
    for (const entry of plan.replaced) {
      const name = String(entry.name);
      try {
        await api.updateProfile(name, entry);
        replaced += 1;
      } catch (error) {
        details.push(`Profile "${name}" was not replaced: ${rejectionDetail(error)}`);
      }
    }
  }
  const unchanged = replace ? 0 : plan.replaced.length;
  return {
    summary: importSummary(added, replaced, unchanged),
    details,
    failed: details.length > 0,
  };
}
