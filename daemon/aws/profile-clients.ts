// The AWS side of every tunnel. Each profile gets one client set, whose SSM, EC2, STS, RDS
// and ElastiCache clients share one credentials cache, plus its tag-target and remote-host
// resolvers. Its SSM client refreshes the credentials once when AWS rejects them.

import { StartSessionCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Profile } from '../config/types.js';
import { classifyError, mayNeedFreshCredentials } from '../errors.js';
import { createAwsClientSet, withCredentialRetry, type AwsClientSet } from './clients.js';
import {
  createRemoteHostResolver,
  type RemoteHostResolver,
  type ResolvedRemoteHost,
} from './remote-host.js';
import { createTargetResolver, type TargetChoice, type TargetResolver } from './targets.js';

/** Asks the user for an MFA code on behalf of one bastionless profile. */
export type ProfileMfaCodeProvider = (profile: Profile, mfaSerial: string) => Promise<string>;

export interface ProfileAwsOptions {
  mfaCodeProvider?: ProfileMfaCodeProvider;
  /** How long a resolved RDS or ElastiCache endpoint is reused, in milliseconds. */
  remoteHostCacheMs?: number;
  /** Builds a client set; tests pass their own. Default: createAwsClientSet. */
  createClientSet?: typeof createAwsClientSet;
  /** Hears when a tag target's pick among several Online instances changes. */
  onTargetChoice?: (profile: Profile, choice: TargetChoice) => void;
}

interface ProfileEntry {
  /** Region, AWS profile and endpoints the set was built for; a change rebuilds it. */
  key: string;
  set: AwsClientSet;
  ssm: SSMClient;
  /** Resolver of the target spec in `targetKey`; a changed spec replaces it. */
  target: { resolver: TargetResolver; targetKey: string } | undefined;
  /** Resolver of the remote host in `hostKey`; a changed remote host replaces it. */
  remoteHost: { resolver: RemoteHostResolver; hostKey: string } | undefined;
}

type SsmSend = SSMClient['send'];

/**
 * Wraps `set.ssm` so that a call rejected with HTTP 403 or an expired token reloads the
 * credentials from the provider chain and runs once more. StartSession is left out because
 * the tunnel's launcher retries it itself, after resolving the target again. Other errors are
 * raised unchanged, so callers still see the SDK exception names (DoesNotExistException).
 */
export function createRefreshingSsmClient(set: AwsClientSet): SSMClient {
  const send = set.ssm.send.bind(set.ssm) as (...args: unknown[]) => Promise<unknown>;
  const retryingSend = async (...args: unknown[]): Promise<unknown> => {
    try {
      return await send(...args);
    } catch (error) {
      const classified = classifyError(error, { awsProfile: set.credentials.awsProfile });
      if (args[0] instanceof StartSessionCommand || !mayNeedFreshCredentials(classified)) {
        throw error;
      }
      await set.refreshCredentials();
      return send(...args);
    }
  };
  return new Proxy(set.ssm, {
    get(target, property, receiver) {
      if (property === 'send') {
        return retryingSend as SsmSend;
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

function keyOf(profile: Profile): string {
  return JSON.stringify([profile.region, profile.awsProfile ?? null, profile.endpoints]);
}

/**
 * Keeps the AWS clients and resolvers of every profile, by profile name. A profile whose
 * region, AWS profile or endpoints changed gets a new set, and the old one is destroyed. An
 * edited target or remote host gets a new resolver on its next lookup, so an edit through the
 * control API takes effect without a daemon restart.
 */
export class ProfileAwsRegistry {
  private readonly entries = new Map<string, ProfileEntry>();
  private readonly options: ProfileAwsOptions;

  constructor(options: ProfileAwsOptions = {}) {
    this.options = options;
  }

  private entryFor(profile: Profile): ProfileEntry {
    const key = keyOf(profile);
    const existing = this.entries.get(profile.name);
    if (existing && existing.key === key) {
      return existing;
    }
    existing?.set.destroy();
    const mfa = this.options.mfaCodeProvider;
    const set = (this.options.createClientSet ?? createAwsClientSet)({
      region: profile.region,
      awsProfile: profile.awsProfile,
      endpoints: profile.endpoints,
      mfaCodeProvider: mfa ? (serial) => mfa(profile, serial) : undefined,
    });
    const entry: ProfileEntry = {
      key,
      set,
      ssm: createRefreshingSsmClient(set),
      target: undefined,
      remoteHost: undefined,
    };
    this.entries.set(profile.name, entry);
    return entry;
  }

  /** Client set of the profile, created on first use. */
  clientSet(profile: Profile): AwsClientSet {
    return this.entryFor(profile).set;
  }

  /** SSM client of the profile whose calls refresh rejected credentials once. */
  ssmClientFor(profile: Profile): SSMClient {
    return this.entryFor(profile).ssm;
  }

  /** Loads fresh credentials from the provider chain and hands them to every client. */
  async refreshCredentials(profile: Profile): Promise<void> {
    await this.entryFor(profile).set.refreshCredentials();
  }

  /**
   * Resolves the tag target of `profile` to one Online instance id, keeping the previous
   * choice while it stays Online. An edited target gets a new resolver, so the previous choice
   * of the old tags is dropped. Credentials rejected by AWS are refreshed once.
   */
  async resolveTarget(profile: Profile): Promise<string> {
    const entry = this.entryFor(profile);
    const targetKey = JSON.stringify(profile.target);
    if (entry.target?.targetKey !== targetKey) {
      const resolver = createTargetResolver(profile.target, entry.set, (choice) =>
        this.options.onTargetChoice?.(profile, choice),
      );
      entry.target = { resolver, targetKey };
    }
    const resolver = entry.target.resolver;
    const chosen = await withCredentialRetry(entry.set, () => resolver.resolve());
    return chosen.instanceId;
  }

  /** Resolves an `rds:`, `rds-cluster:` or `elasticache:` remote host to its endpoint. */
  async resolveRemoteHost(profile: Profile): Promise<ResolvedRemoteHost> {
    const remoteHost = profile.remoteHost;
    if (remoteHost === undefined) {
      throw new Error(`profile ${profile.name} has no remoteHost to resolve`);
    }
    const entry = this.entryFor(profile);
    if (entry.remoteHost?.hostKey !== remoteHost) {
      const resolver = createRemoteHostResolver(remoteHost, entry.set, {
        cacheMs: this.options.remoteHostCacheMs,
      });
      entry.remoteHost = { resolver, hostKey: remoteHost };
    }
    const resolver = entry.remoteHost.resolver;
    return withCredentialRetry(entry.set, () => resolver.resolve());
  }

  /** Drops the cached endpoint of the profile's remote host, e.g. after a failed dial. */
  invalidateRemoteHost(profile: Profile): void {
    this.entries.get(profile.name)?.remoteHost?.resolver.invalidate();
  }

  /** Drops the client sets of profiles not in `names`. */
  retain(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const [name, entry] of this.entries) {
      if (!keep.has(name)) {
        entry.set.destroy();
        this.entries.delete(name);
      }
    }
  }

  destroyAll(): void {
    for (const entry of this.entries.values()) {
      entry.set.destroy();
    }
    this.entries.clear();
  }
}
