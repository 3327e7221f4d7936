import type { FieldError, Profile, TargetSpec } from './types.js';

/** Editable text of every profile field, as the form inputs hold it. */
export interface ProfileForm {
  name: string;
  groups: string;
  region: string;
  awsProfile: string;
  /** An instance id, or `Key=Value` pairs separated by commas to select by tags. */
  target: string;
  remoteHost: string;
  remotePort: string;
  localPort: string;
  bindAddress: string;
  allowNonLoopback: boolean;
  autoStart: boolean;
  mode: 'on-demand' | 'always-on';
  sessionPool: string;
  ssmEndpoint: string;
  keepAlive: boolean;
}

export const EMPTY_FORM: Readonly<ProfileForm> = Object.freeze({
  name: '',
  groups: '',
  region: 'us-east-1',
  awsProfile: '',
  target: '',
  remoteHost: '',
  remotePort: '',
  localPort: '',
  bindAddress: '127.0.0.1',
  allowNonLoopback: false,
  autoStart: false,
  mode: 'on-demand',
  sessionPool: '1',
  ssmEndpoint: '',
  keepAlive: false,
});

function targetToText(target: TargetSpec): string {
  if (typeof target === 'string') return target;
  return Object.entries(target.tags)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

function textToTarget(text: string): TargetSpec {
  const trimmed = text.trim();
  if (!trimmed.includes('=')) return trimmed;
  const tags: Record<string, string> = {};
  for (const pair of trimmed.split(',')) {
    const [key, ...rest] = pair.split('=');
    if (key.trim()) tags[key.trim()] = rest.join('=').trim();
  }
  return { tags };
}

// Text that is not a whole number is sent as typed, so the daemon's validator names the
// field and the allowed range instead of the browser silently dropping the value.
function textToNumber(text: string): number | string {
  const trimmed = text.trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export function profileToForm(profile: Profile): ProfileForm {
  return {
    name: profile.name,
    groups: profile.groups.join(', '),
    region: profile.region,
    awsProfile: profile.awsProfile ?? '',
    target: targetToText(profile.target),
    remoteHost: profile.remoteHost ?? '',
    remotePort: String(profile.remotePort),
    localPort: String(profile.localPort),
    bindAddress: profile.bindAddress,
    allowNonLoopback: profile.allowNonLoopback,
    autoStart: profile.autoStart,
    mode: profile.mode,
    sessionPool: String(profile.sessionPool),
    ssmEndpoint: profile.endpoints?.ssm ?? '',
    keepAlive: profile.keepAlive,
  };
}

/**
 * Builds the request body for `POST`/`PUT /v1/profiles` from the form, keeping endpoint
 * overrides the form does not show (ec2, sts, ...) from `base`.
 */
export function formToProfileBody(form: ProfileForm, base?: Profile): Record<string, unknown> {
  const endpoints = { ...(base?.endpoints ?? {}) } as Record<string, string>;
  if (form.ssmEndpoint.trim()) endpoints.ssm = form.ssmEndpoint.trim();
  else delete endpoints.ssm;
  const body: Record<string, unknown> = {
    name: form.name.trim(),
    groups: form.groups
      .split(',')
      .map((group) => group.trim())
      .filter(Boolean),
    region: form.region.trim(),
    target: textToTarget(form.target),
    remotePort: textToNumber(form.remotePort),
    localPort: textToNumber(form.localPort),
    bindAddress: form.bindAddress.trim(),
    allowNonLoopback: form.allowNonLoopback,
    autoStart: form.autoStart,
    mode: form.mode,
    sessionPool: textToNumber(form.sessionPool),
    endpoints,
    keepAlive: form.keepAlive,
  };
  if (form.awsProfile.trim()) body.awsProfile = form.awsProfile.trim();
  if (form.remoteHost.trim()) body.remoteHost = form.remoteHost.trim();
  return body;
}

/** Picks a free copy name such as "db-copy" or "db-copy-2" for the Duplicate action. */
export function duplicateName(name: string, taken: ReadonlySet<string>): string {
  let candidate = `${name}-copy`;
  for (let index = 2; taken.has(candidate); index += 1) candidate = `${name}-copy-${index}`;
  return candidate;
}

/** Form field names, used to route the daemon's field errors to their inputs. */
export type FormField = keyof ProfileForm;

const FIELD_ALIASES: Record<string, FormField> = { 'endpoints.ssm': 'ssmEndpoint' };

/**
 * Groups the daemon's field errors by form field. Paths such as `/localPort`,
 * `body.localPort` or `target.tags` map to their top-level field; errors about fields the
 * form does not show are returned under `other`.
 */
export function fieldErrorsByField(fields: readonly FieldError[]): {
  byField: Partial<Record<FormField, string[]>>;
  other: string[];
} {
  const byField: Partial<Record<FormField, string[]>> = {};
  const other: string[] = [];
  for (const field of fields) {
    const path = field.path
      .replace(/^\//, '')
      .replace(/^body[./]?/, '')
      .replace(/\//g, '.')
      .replace(/\[\d+\]/g, '');
    const name = FIELD_ALIASES[path] ?? (path.split('.')[0] as FormField);
    if (name in EMPTY_FORM) (byField[name] ??= []).push(field.message);
    else other.push(field.path ? `${field.path}: ${field.message}` : field.message);
  }
  return { byField, other };
}
