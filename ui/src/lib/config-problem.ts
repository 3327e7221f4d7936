import type { DaemonStatus } from './types.js';

/**
 * Invalid values listed after the first one, as `bastionless status` lists them. A file with
 * more problems is probably not a config file, and a longer list would bury the fix.
 */
export const MAX_LISTED_FIELDS = 20;

/** A rejected config file as the dashboard banner words it. */
export interface ConfigProblem {
  /** One sentence naming the file. */
  title: string;
  /** The problem as a sentence, e.g. `Not valid JSON (…, line 3 column 1).` */
  problem: string;
  /** One line per further invalid value, after the one the problem names. */
  details: string[];
  /** The next step as one sentence, or null when the daemon gives none. */
  fix: string | null;
  /** Effect on the daemon's profiles meanwhile, and when it reads the file again. */
  consequence: string;
}

/**
 * Builds the banner text for the daemon's rejected config file, or returns null when the file
 * is valid. A daemon from before the `reason`, `fix` and `fields` fields sends only `message`,
 * which then becomes the problem.
 */
export function describeConfigProblem(
  status: Pick<DaemonStatus, 'configFile' | 'configError' | 'tunnels'>,
): ConfigProblem | null {
  const error = status.configError;
  if (!error) return null;
  const fields = Array.isArray(error.fields) ? error.fields : [];
  const fix = typeof error.fix === 'string' && error.fix !== '' ? error.fix : null;
  const reason = typeof error.reason === 'string' && error.reason !== '' ? error.reason : null;
  let problem = reason ?? error.message;
  const details = fieldLines(fields);
  // The reason counts the further values, which the details list in its place.
  const countSuffix = ` (and ${fields.length - 1} more)`;
  if (details.length > 0 && problem.endsWith(countSuffix)) {
    problem = problem.slice(0, -countSuffix.length);
  }
  return {
    title: `The daemon rejected its config file ${status.configFile}.`,
    problem: sentence(problem),
    details,
    fix: fix === null ? null : sentence(fix),
    consequence: consequenceOf(status.tunnels),
  };
}

function consequenceOf(tunnels: number): string {
  const reload = 'It loads the file again when it changes, so no restart is needed.';
  const saving = 'Saving a profile from this page fails until the file is fixed.';
  if (tunnels === 0) return `The daemon has no profiles loaded. ${reload} ${saving}`;
  const profiles = tunnels === 1 ? '1 profile' : `${tunnels} profiles`;
  return `The daemon keeps the ${profiles} it loaded before. ${reload} ${saving}`;
}

function fieldLines(fields: readonly { path: string; message: string }[]): string[] {
  const rest = fields.slice(1);
  const lines = rest.slice(0, MAX_LISTED_FIELDS).map((field) => `${field.path}: ${field.message}`);
  if (rest.length > MAX_LISTED_FIELDS) {
    lines.push(`and ${rest.length - MAX_LISTED_FIELDS} more problems`);
  }
  return lines;
}

function sentence(text: string): string {
  const capitalized = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalized) ? capitalized : `${capitalized}.`;
}
