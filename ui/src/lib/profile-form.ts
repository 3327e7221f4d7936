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
  /** Endpoint URL for every AWS service, as the CLI's `--endpoint-url` sets it. */
  endpoint: string;
  /**
   * Endpoints of a stored profile whose services do not all share one URL, by service. Saving
   * keeps them unless `endpoint` is set, which replaces them all.
   */
  serviceEndpoints: Record<string, string>;
  keepAlive: boolean;
}

/**
 * Services the daemon calls, which `endpoint` points at one URL. The CLI's `--endpoint-url`
 * sets the same list (ENDPOINT_SERVICES in daemon/cli/profile-commands.ts).
 */
export const ENDPOINT_SERVICES = ['ssm', 'sts', 'ec2', 'rds', 'elasticache'] as const;

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
  endpoint: '',
  serviceEndpoints: Object.freeze({}) as Record<string, string>,
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

/** Returns the URL every service uses, or null when the services differ or some have none. */
function sharedEndpoint(endpoints: Record<string, string>): string | null {
  const urls = new Set(Object.values(endpoints));
  const keys = Object.keys(endpoints);
  const coversAll = ENDPOINT_SERVICES.every((service) => endpoints[service] !== undefined);
  if (urls.size !== 1 || !coversAll || keys.length !== ENDPOINT_SERVICES.length) return null;
  return [...urls][0]!;
}

export function profileToForm(profile: Profile): ProfileForm {
  const endpoints = { ...(profile.endpoints ?? {}) } as Record<string, string>;
  const shared = sharedEndpoint(endpoints);
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
    endpoint: shared ?? '',
    serviceEndpoints: shared === null ? endpoints : {},
    keepAlive: profile.keepAlive,
  };
}

/**
 * Builds the request body for `POST`/`PUT /v1/profiles` from the form. An endpoint URL applies
 * to every service in ENDPOINT_SERVICES. Without one, the per-service endpoints stay as stored.
 */
export function formToProfileBody(form: ProfileForm): Record<string, unknown> {
  const url = form.endpoint.trim();
  const endpoints = url
    ? Object.fromEntries(ENDPOINT_SERVICES.map((service) => [service, url]))
    : { ...form.serviceEndpoints };
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

/**
 * Picks the first local port after `port` that no profile uses, for the Duplicate action, or
 * returns `port` when every higher port is taken. Whether another program listens there shows
 * only when the tunnel starts.
 */
export function nextUnusedPort(port: number, used: ReadonlySet<number>): number {
  for (let candidate = port + 1; candidate <= 65535; candidate += 1) {
    if (!used.has(candidate)) return candidate;
  }
  return port;
}

/** Form field names, used to route the daemon's field errors to their inputs. */
export type FormField = keyof ProfileForm;

/**
 * The daemon starts each profile field message with `profile "NAME": `, or `profile: ` when
 * the name is missing, which the form already shows.
 */
const PROFILE_PREFIX = /^profile(?: ".*?")?: /;

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
    const top = path.split('.')[0]!;
    const name = (top === 'endpoints' ? 'endpoint' : top) as FormField;
    const message = field.message.replace(PROFILE_PREFIX, '');
    if (name in EMPTY_FORM) (byField[name] ??= []).push(message);
    else other.push(field.path ? `${field.path}: ${message}` : message);
  }
  return { byField, other };
}
