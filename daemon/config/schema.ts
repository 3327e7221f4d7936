// Validation of profiles and of the whole config file, with defaults applied. Every issue
// names the profile, the field and the fix, because users edit this file by hand.

import { isIP } from 'node:net';
import type { Profile, TargetSpec, TunnelMode } from './types.js';
import type { FieldIssue } from './errors.js';

export const CONFIG_VERSION = 2;
export const MAX_SESSION_POOL = 8;
export const MAX_PROFILES = 256;

/** Defaults applied to every profile field a user leaves out. */
export const PROFILE_DEFAULTS = Object.freeze({
  groups: [] as readonly string[],
  bindAddress: '127.0.0.1',
  allowNonLoopback: false,
  autoStart: false,
  mode: 'on-demand' as TunnelMode,
  sessionPool: 1 as number,
  keepAlive: false,
});

export interface ConfigFile {
  version: number;
  profiles: Profile[];
}

// Names appear in URLs, metric labels and file names, so they stay within a safe alphabet.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NAME_RULE =
  'use 1-63 letters, digits, ".", "_" or "-", all ASCII and starting with a letter or digit';
const INSTANCE_ID_PATTERN = /^(i|mi)-[0-9a-f]{8,17}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const HOSTNAME_PATTERN = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/;
// AWS resources whose endpoint daemon/aws/remote-host.ts looks up, e.g. `rds:orders-db`.
const AWS_RESOURCE_HOST_PATTERN =
  /^(rds|rds-cluster|rds-cluster-reader|elasticache):[A-Za-z][A-Za-z0-9-]{0,254}$/;
const ENDPOINT_KEYS = ['ssm', 'ec2', 'sts', 'rds', 'elasticache'] as const;
const PROFILE_KEYS = new Set([
  'name',
  'groups',
  'region',
  'awsProfile',
  'target',
  'remoteHost',
  'remotePort',
  'localPort',
  'bindAddress',
  'allowNonLoopback',
  'autoStart',
  'mode',
  'sessionPool',
  'endpoints',
  'keepAlive',
]);

export interface ProfileValidation {
  profile: Profile | null;
  issues: FieldIssue[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Characters of a name or value that messages show before they cut it off with "…". */
const MAX_SHOWN_CHARS = 40;

/** Shortens `name` to MAX_SHOWN_CHARS characters and "…", so a long name fits a message. */
export function shortName(name: string): string {
  return name.length > MAX_SHOWN_CHARS ? `${name.slice(0, MAX_SHOWN_CHARS)}…` : name;
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(shortName(value));
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  if (value === null) {
    return 'null';
  }
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Collects issues for one profile; `prefix` is prepended to every field path. */
class IssueCollector {
  readonly issues: FieldIssue[] = [];
  constructor(
    private readonly label: string,
    private readonly prefix: string,
  ) {}

  add(field: string, message: string): void {
    this.issues.push({ path: `${this.prefix}${field}`, message: `${this.label}: ${message}` });
  }
}

function checkPort(c: IssueCollector, field: string, value: unknown): number {
  if (value === undefined) {
    c.add(field, `${field} is missing; use a port number 1-65535`);
    return 0;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    c.add(field, `${field} ${describe(value)} is not an integer; use a port number 1-65535`);
    return 0;
  }
  if (value < 1 || value > 65535) {
    c.add(field, `${field} ${value} is out of range; use 1-65535`);
  }
  return value;
}

/** Port of a profile whose remoteHost names an AWS resource when the lookup supplies it. */
export const LOOKED_UP_REMOTE_PORT = 0;

/**
 * Checks remotePort. For an `rds:`, `rds-cluster:`, `rds-cluster-reader:` or `elasticache:`
 * remote host it may be absent or 0, because the endpoint lookup returns the port the
 * resource listens on and that port wins over the profile's. Plain hosts need a port.
 */
function checkRemotePort(c: IssueCollector, remoteHost: unknown, value: unknown): number {
  const namesAwsResource =
    typeof remoteHost === 'string' && AWS_RESOURCE_HOST_PATTERN.test(remoteHost);
  if (namesAwsResource && (value === undefined || value === LOOKED_UP_REMOTE_PORT)) {
    return LOOKED_UP_REMOTE_PORT;
  }
  return checkPort(c, 'remotePort', value);
}

function checkBoolean(c: IssueCollector, field: string, value: unknown, fallback: boolean) {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'boolean') {
    c.add(field, `${field} ${describe(value)} is not a boolean; use true or false`);
    return fallback;
  }
  return value;
}

/** The two target forms, as a user gives them in the CLI, the dashboard and the config file. */
const TARGET_FORMS =
  'use an instance id (i-… or mi-…) or tags as Key=Value, e.g. Name=db, which the config file stores as {"tags": {"Name": "db"}}';

function checkTarget(c: IssueCollector, value: unknown): TargetSpec {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
    c.add('target', `target is required; ${TARGET_FORMS}`);
    return '';
  }
  if (typeof value === 'string') {
    if (!INSTANCE_ID_PATTERN.test(value)) {
      c.add('target', `target ${describe(value)} is not an instance id; use i-… or mi-…`);
    }
    return value;
  }
  if (isRecord(value) && isRecord(value.tags) && Object.keys(value).length === 1) {
    const tags: Record<string, string> = {};
    const entries = Object.entries(value.tags);
    if (entries.length === 0) {
      c.add('target.tags', 'target.tags is empty; give at least one tag, e.g. {"Name": "db"}');
    }
    // An empty value stays valid: AWS allows a tag value to be an empty string (not null), so
    // `Name=` selects instances whose Name tag is empty, not every instance with a Name tag.
    for (const [key, tagValue] of entries) {
      if (typeof tagValue !== 'string' || key.length === 0) {
        c.add(`target.tags.${key}`, `tag ${describe(key)} must have a string value`);
      } else {
        tags[key] = tagValue;
      }
    }
    return { tags };
  }
  c.add('target', `target ${describe(value)} is invalid; ${TARGET_FORMS}`);
  return '';
}

function checkEndpoints(c: IssueCollector, value: unknown): Profile['endpoints'] {
  const endpoints: Profile['endpoints'] = {};
  if (value === undefined) {
    return endpoints;
  }
  if (!isRecord(value)) {
    c.add('endpoints', `endpoints ${describe(value)} is not an object; use {"ssm": "https://…"}`);
    return endpoints;
  }
  for (const [key, url] of Object.entries(value)) {
    if (!(ENDPOINT_KEYS as readonly string[]).includes(key)) {
      c.add(
        `endpoints.${key}`,
        `endpoints.${key} is not a known service; use one of ${ENDPOINT_KEYS.join(', ')}`,
      );
      continue;
    }
    if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+/.test(url)) {
      c.add(
        `endpoints.${key}`,
        `endpoints.${key} ${describe(url)} is not a URL; use http(s)://host[:port], e.g. http://127.0.0.1:4566`,
      );
      continue;
    }
    endpoints[key as (typeof ENDPOINT_KEYS)[number]] = url;
  }
  return endpoints;
}

function checkGroups(c: IssueCollector, value: unknown): string[] {
  if (value === undefined) {
    return [...PROFILE_DEFAULTS.groups];
  }
  if (!Array.isArray(value)) {
    c.add('groups', `groups ${describe(value)} is not an array; use e.g. ["staging"]`);
    return [];
  }
  const groups: string[] = [];
  value.forEach((group, index) => {
    if (typeof group !== 'string' || !NAME_PATTERN.test(group)) {
      c.add(`groups[${index}]`, `group ${describe(group)} is invalid; ${NAME_RULE}`);
    } else if (!groups.includes(group)) {
      groups.push(group);
    }
  });
  return groups;
}

function checkBind(c: IssueCollector, bindAddress: unknown, allowNonLoopback: boolean): string {
  if (bindAddress === undefined) {
    return PROFILE_DEFAULTS.bindAddress;
  }
  if (typeof bindAddress !== 'string' || (bindAddress !== 'localhost' && isIP(bindAddress) === 0)) {
    c.add(
      'bindAddress',
      `bindAddress ${describe(bindAddress)} is not an IP address; use 127.0.0.1`,
    );
    return PROFILE_DEFAULTS.bindAddress;
  }
  const loopback =
    bindAddress === 'localhost' || bindAddress === '::1' || bindAddress.startsWith('127.');
  if (!loopback && !allowNonLoopback) {
    c.add(
      'bindAddress',
      `bindAddress ${bindAddress} exposes the tunnel beyond this machine; use 127.0.0.1, or accept it with --allow-non-loopback (allowNonLoopback: true)`,
    );
  }
  return bindAddress;
}

/** Validates one profile and fills in defaults. `prefix` locates it in the file, e.g. `profiles[2].`. */
export function validateProfile(raw: unknown, prefix = ''): ProfileValidation {
  const name = isRecord(raw) && typeof raw.name === 'string' ? raw.name : undefined;
  const c = new IssueCollector(
    name === undefined ? 'profile' : `profile "${shortName(name)}"`,
    prefix,
  );
  if (!isRecord(raw)) {
    c.add('', `expected an object, got ${describe(raw)}`);
    return { profile: null, issues: c.issues };
  }

  for (const key of Object.keys(raw)) {
    if (!PROFILE_KEYS.has(key)) {
      c.add(key, `unknown field "${key}"; remove it or check its spelling`);
    }
  }
  if (raw.name === undefined) {
    c.add('name', `name is missing; ${NAME_RULE}`);
  } else if (name === undefined || !NAME_PATTERN.test(name)) {
    c.add('name', `name ${describe(raw.name)} is invalid; ${NAME_RULE}`);
  }
  if (raw.region === undefined) {
    c.add('region', 'region is missing; use e.g. eu-west-1');
  } else if (typeof raw.region !== 'string' || !REGION_PATTERN.test(raw.region)) {
    c.add('region', `region ${describe(raw.region)} is invalid; use e.g. eu-west-1`);
  }
  if (
    raw.awsProfile !== undefined &&
    (typeof raw.awsProfile !== 'string' || raw.awsProfile === '')
  ) {
    c.add(
      'awsProfile',
      `awsProfile ${describe(raw.awsProfile)} is invalid; use a profile name from ~/.aws/config`,
    );
  }
  const target = checkTarget(c, raw.target);
  if (raw.remoteHost !== undefined) {
    if (
      typeof raw.remoteHost !== 'string' ||
      !(HOSTNAME_PATTERN.test(raw.remoteHost) || AWS_RESOURCE_HOST_PATTERN.test(raw.remoteHost))
    ) {
      c.add(
        'remoteHost',
        `remoteHost ${describe(raw.remoteHost)} is invalid; use a DNS name such as db.internal, an IPv4 address such as 10.0.1.5, or an AWS resource such as rds:orders-db, rds-cluster:orders, rds-cluster-reader:orders or elasticache:sessions`,
      );
    }
  }
  const remotePort = checkRemotePort(c, raw.remoteHost, raw.remotePort);
  const localPort = checkPort(c, 'localPort', raw.localPort);
  const allowNonLoopback = checkBoolean(
    c,
    'allowNonLoopback',
    raw.allowNonLoopback,
    PROFILE_DEFAULTS.allowNonLoopback,
  );
  const bindAddress = checkBind(c, raw.bindAddress, allowNonLoopback);
  let mode: TunnelMode = PROFILE_DEFAULTS.mode;
  if (raw.mode !== undefined) {
    if (raw.mode !== 'on-demand' && raw.mode !== 'always-on') {
      c.add('mode', `mode ${describe(raw.mode)} is invalid; use "on-demand" or "always-on"`);
    } else {
      mode = raw.mode;
    }
  }
  let sessionPool = PROFILE_DEFAULTS.sessionPool;
  if (raw.sessionPool !== undefined) {
    const pool = raw.sessionPool;
    if (
      typeof pool !== 'number' ||
      !Number.isInteger(pool) ||
      pool < 1 ||
      pool > MAX_SESSION_POOL
    ) {
      c.add(
        'sessionPool',
        `sessionPool ${describe(pool)} is out of range; use 1-${MAX_SESSION_POOL}`,
      );
    } else {
      sessionPool = pool;
    }
  }

  const profile: Profile = {
    name: name ?? '',
    groups: checkGroups(c, raw.groups),
    region: typeof raw.region === 'string' ? raw.region : '',
    target,
    remotePort,
    localPort,
    bindAddress,
    allowNonLoopback,
    autoStart: checkBoolean(c, 'autoStart', raw.autoStart, PROFILE_DEFAULTS.autoStart),
    mode,
    sessionPool,
    endpoints: checkEndpoints(c, raw.endpoints),
    keepAlive: checkBoolean(c, 'keepAlive', raw.keepAlive, PROFILE_DEFAULTS.keepAlive),
  };
  if (typeof raw.awsProfile === 'string' && raw.awsProfile !== '') {
    profile.awsProfile = raw.awsProfile;
  }
  if (typeof raw.remoteHost === 'string') {
    profile.remoteHost = raw.remoteHost;
  }
  return c.issues.length === 0 ? { profile, issues: [] } : { profile: null, issues: c.issues };
}

/**
 * Finds profiles that share a name, or a local address and port. Each issue is placed on the
 * later of the two profiles, which names the earlier one.
 */
export function checkProfileConflicts(
  profiles: Profile[],
  fileIndexOf: (index: number) => number = (index) => index,
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const names = new Map<string, number>();
  const listeners = new Map<string, string>();
  profiles.forEach((profile, position) => {
    const index = fileIndexOf(position);
    if (names.has(profile.name)) {
      issues.push({
        path: `profiles[${index}].name`,
        message: `profile "${profile.name}": the name is already used by profiles[${names.get(profile.name)}]; choose another name`,
      });
    } else {
      names.set(profile.name, index);
    }
    const key = `${profile.bindAddress}:${profile.localPort}`;
    const owner = listeners.get(key);
    if (owner !== undefined) {
      issues.push({
        path: `profiles[${index}].localPort`,
        message: `profile "${profile.name}": localPort ${profile.localPort} on ${profile.bindAddress} is already used by profile "${owner}"; choose another port`,
      });
    } else {
      listeners.set(key, profile.name);
    }
  });
  return issues;
}

/**
 * Finds groups named like a profile, because `bastionless up NAME` then acts on the profile
 * alone. Each issue is placed on the later of the two profiles. Writes reject these, but a
 * config file that has one still loads, so files written before this check keep working.
 */
export function checkGroupNames(
  profiles: Profile[],
  fileIndexOf: (index: number) => number = (index) => index,
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const positionByName = new Map(profiles.map((profile, position) => [profile.name, position]));
  profiles.forEach((profile, position) => {
    profile.groups.forEach((group, groupIndex) => {
      const namesake = positionByName.get(group);
      if (namesake === undefined) {
        return;
      }
      if (namesake > position) {
        issues.push({
          path: `profiles[${fileIndexOf(namesake)}].name`,
          message: `profile "${group}": the name is already used as a group of profile "${profile.name}", so \`bastionless up ${group}\` could not tell them apart; choose another name, or rename the group`,
        });
        return;
      }
      issues.push({
        path: `profiles[${fileIndexOf(position)}].groups[${groupIndex}]`,
        message: `profile "${profile.name}": group "${group}" has the name of profile "${group}", so \`bastionless up ${group}\` could not tell them apart; choose another group name, or rename the profile`,
      });
    });
  });
  return issues;
}

/** Validates an already-migrated config document. */
export function validateConfig(raw: unknown): { config: ConfigFile | null; issues: FieldIssue[] } {
  if (!isRecord(raw)) {
    return {
      config: null,
      issues: [
        { path: '', message: 'the config must be a JSON object with "version" and "profiles"' },
      ],
    };
  }
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(raw)) {
    if (key !== 'version' && key !== 'profiles') {
      issues.push({ path: key, message: `unknown top-level field "${key}"; remove it` });
    }
  }
  if (!Array.isArray(raw.profiles)) {
    issues.push({
      path: 'profiles',
      message: 'profiles is missing or not an array; use "profiles": []',
    });
    return { config: null, issues };
  }
  if (raw.profiles.length > MAX_PROFILES) {
    issues.push({
      path: 'profiles',
      message: `profiles has ${raw.profiles.length} entries; the limit is ${MAX_PROFILES}`,
    });
  }
  const profiles: Profile[] = [];
  const fileIndexes: number[] = [];
  raw.profiles.forEach((entry, index) => {
    const result = validateProfile(entry, `profiles[${index}].`);
    issues.push(...result.issues);
    if (result.profile) {
      profiles.push(result.profile);
      fileIndexes.push(index);
    }
  });
  issues.push(...checkProfileConflicts(profiles, (position) => fileIndexes[position] ?? position));
  if (issues.length > 0) {
    return { config: null, issues };
  }
  return { config: { version: CONFIG_VERSION, profiles }, issues };
}
