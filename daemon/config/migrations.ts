// Step-by-step upgrades of the config document. Each step is a pure function from version N
// to N+1, so a file written by any older release is upgraded through every step in order.

import { CONFIG_VERSION } from './schema.js';
import { ConfigError } from './errors.js';

type Document = Record<string, unknown>;
type MigrationStep = (document: Document) => Document;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Converts a numeric string such as "5432" to a number; leaves anything else for validation. */
function portFromString(value: unknown): unknown {
  return typeof value === 'string' && /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : value;
}

/**
 * Version 1 to 2: ports written as strings ("5432") become numbers, and the `bind` field is
 * renamed to `bindAddress`. A v1 profile that already has `bindAddress` keeps it, and its
 * `bind` is dropped.
 */
export function migrateV1ToV2(document: Document): Document {
  const profiles = document.profiles;
  const upgraded = Array.isArray(profiles)
    ? profiles.map((entry: unknown) => {
        if (!isRecord(entry)) {
          return entry;
        }
        const { bind, ...rest } = entry;
        const profile: Document = { ...rest };
        if (bind !== undefined && profile.bindAddress === undefined) {
          profile.bindAddress = bind;
        }
        if ('localPort' in profile) {
          profile.localPort = portFromString(profile.localPort);
        }
        if ('remotePort' in profile) {
          profile.remotePort = portFromString(profile.remotePort);
        }
        return profile;
      })
    : profiles;
  return { ...document, version: 2, profiles: upgraded };
}

/** `MIGRATIONS[n]` upgrades a version-n document to version n+1. */
export const MIGRATIONS: Readonly<Record<number, MigrationStep>> = Object.freeze({
  1: migrateV1ToV2,
});

/**
 * Upgrades a parsed document to CONFIG_VERSION. A document without `version` is treated as
 * version 1, the format before the field existed. Throws ERR_CONFIG_VERSION for a version
 * newer than this release understands, because writing it back would lose its new fields.
 */
export function migrateConfig(raw: unknown): { document: unknown; fromVersion: number } {
  if (!isRecord(raw)) {
    return { document: raw, fromVersion: CONFIG_VERSION };
  }
  const declared = raw.version ?? 1;
  if (typeof declared !== 'number' || !Number.isInteger(declared) || declared < 1) {
    throw new ConfigError(
      'ERR_CONFIG_VERSION',
      `version ${JSON.stringify(declared)} is invalid; use ${CONFIG_VERSION}`,
      { fields: [{ path: 'version', message: `use an integer from 1 to ${CONFIG_VERSION}` }] },
    );
  }
  if (declared > CONFIG_VERSION) {
    throw new ConfigError(
      'ERR_CONFIG_VERSION',
      `config version ${declared} is newer than this release supports (${CONFIG_VERSION}); upgrade bastionless`,
      { fields: [{ path: 'version', message: `this release reads versions 1-${CONFIG_VERSION}` }] },
    );
  }
  let document: Document = raw;
  for (let version = declared; version < CONFIG_VERSION; version += 1) {
    const step = MIGRATIONS[version];
    if (!step) {
      throw new Error(`no config migration from version ${version}; this is a bug in bastionless`);
    }
    document = step(document);
  }
  return { document, fromVersion: declared };
}
