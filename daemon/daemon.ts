// The daemon process: config store → tunnel manager → control API, plus the pid, port,
// token, open-session and resume files in the state directory, and an orderly shutdown.

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { readStateFile } from './state-file.js';
import { fileURLToPath } from 'node:url';
import { TerminateSessionCommand } from '@aws-sdk/client-ssm';
import type pino from 'pino';
import { createSsmClient } from './aws/clients.js';
import { ProfileAwsRegistry } from './aws/profile-clients.js';
import { describeTargetChoice } from './aws/targets.js';
import { createAuditLog } from './audit/log.js';
import { writeFileAtomic } from './config/atomic-write.js';
import { ConfigStore } from './config/store.js';
import type { ConfigError } from './config/errors.js';
import type { Profile, TunnelStatus } from './config/types.js';
import { createLogger, type DaemonLogger } from './log.js';
import { acquireDaemonLock, DaemonAlreadyRunningError, type DaemonLock } from './instance-lock.js';
import type { ApiFile, BastionlessPaths } from './paths.js';
import { startPortForwardSession } from './portforward/index.js';
import { TunnelManager, type TunnelManagerDeps } from './tunnel/manager.js';
import { loadOrCreateTokenFile } from './api/auth.js';
import { startApiServer, type ApiServer, type ApiServerOptions } from './api/server.js';
import { MfaBroker } from './api/mfa.js';
import { findDaemonIdentity, findPortOwner } from './tunnel/port-owner.js';
import {
  createResumeWriter,
  readResumeState,
  runningTunnelNames,
  type ResumeState,
} from './resume-state.js';

export interface DaemonOptions {
  paths: BastionlessPaths;
  /** Also print readable log lines on stdout. */
  foreground?: boolean;
  /**
   * Control API port. Absent means the last daemon's port when it is free, else a free one;
   * 0 always picks a free one.
   */
  port?: number;
  /** Built dashboard folder; absent means ui/dist of this checkout or package. */
  uiDir?: string;
  version?: string;
  logLevel?: pino.LevelWithSilent;
  /** Overrides for tests, e.g. shorter tunnel timings. */
  managerOverrides?: Partial<TunnelManagerDeps>;
  /**
   * Called when a client requests `POST /v1/shutdown`, e.g. so the process can arm a forced
   * exit. Absent means the daemon only calls its own `stop`.
   */
  onShutdownRequest?: (reason: string) => void;
}

/** One open SSM session, recorded so a restarted daemon can terminate it. */
interface SessionRecord {
  sessionId: string;
  tunnel: string;
  region: string;
  endpoint?: string;
  awsProfile?: string;
}

export interface RunningDaemon {
  readonly port: number;
  readonly url: string;
  readonly token: string;
  readonly manager: TunnelManager;
  readonly store: ConfigStore;
  readonly logger: pino.Logger;
  /** Stops the API and every tunnel, then removes the runtime files. Safe to call twice. */
  stop(reason?: string): Promise<void>;
}

export { DaemonAlreadyRunningError } from './instance-lock.js';

/** The control API port that `--port` requested is taken by another process. */
export class ControlPortInUseError extends Error {
  override readonly name = 'ControlPortInUseError';
  readonly code = 'ERR_CONTROL_PORT_IN_USE';
  constructor(
    readonly port: number,
    holder: string,
    options?: ErrorOptions,
  ) {
    super(
      `control API port 127.0.0.1:${port} is already in use by ${holder}; choose another --port or stop that process`,
      options,
    );
  }
}

/** Names the process listening on `port` for ControlPortInUseError, e.g. `node (pid 4242)`. */
async function describePortHolder(port: number): Promise<string> {
  const owner = await findPortOwner(port).catch(() => undefined);
  if (!owner) {
    return 'another process';
  }
  const daemon = await findDaemonIdentity(owner.pid).catch(() => undefined);
  const holder = `${owner.command} (pid ${owner.pid})`;
  return daemon ? `${holder}, the bastionless daemon of ${daemon.stateDir}` : holder;
}

/**
 * Starts the API on the requested port, else on the last daemon's port, else on a free one.
 * Only a busy requested port is an error; a busy remembered port falls back to a free one.
 */
async function listenControlApi(
  options: Omit<ApiServerOptions, 'port'>,
  requested: number | undefined,
  remembered: number | undefined,
): Promise<ApiServer> {
  if (requested === undefined && remembered !== undefined) {
    try {
      return await startApiServer({ ...options, port: remembered });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw error;
      }
      options.logger.info(
        { port: remembered },
        'the last control API port is in use; taking a free port',
      );
    }
  }
  try {
    return await startApiServer({ ...options, port: requested ?? 0 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && requested) {
      throw new ControlPortInUseError(requested, await describePortHolder(requested), {
        cause: error,
      });
    }
    throw error;
  }
}

/** Reads the resume file; a broken one is logged and ignored, so the daemon still starts. */
function loadResumeState(file: string, logger: pino.Logger): ResumeState | null {
  try {
    return readResumeState(file);
  } catch (error) {
    logger.warn({ err: error, file }, 'reading the resume file failed; no tunnels are restored');
    return null;
  }
}

/** Starts the tunnels the last daemon left running that are still stopped. Failures are logged. */
async function restoreTunnels(
  manager: TunnelManager,
  names: string[],
  logger: pino.Logger,
): Promise<void> {
  await Promise.all(
    names.map(async (name) => {
      const status = manager.get(name);
      if (!status) {
        logger.info({ tunnel: name }, 'not restoring a tunnel whose profile is gone');
        return;
      }
      if (status.state !== 'stopped') {
        return;
      }
      try {
        await manager.start(name);
        logger.info({ tunnel: name }, 'restored a tunnel that was running at the last stop');
      } catch (error) {
        logger.warn({ err: error, tunnel: name }, 'restoring a tunnel failed');
      }
    }),
  );
}

/** Finds ui/dist from the source tree (daemon/) and from the build output (dist/daemon/). */
function defaultUiDir(): string | undefined {
  const candidates = ['../ui/dist', '../../ui/dist'].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  return candidates.find((dir) => existsSync(`${dir}/index.html`));
}

function sessionRecordsOf(
  statuses: TunnelStatus[],
  profiles: Map<string, Profile>,
): SessionRecord[] {
  const records: SessionRecord[] = [];
  for (const status of statuses) {
    const profile = profiles.get(status.name);
    for (const sessionId of status.sessionIds) {
      records.push({
        sessionId,
        tunnel: status.name,
        region: profile?.region ?? 'us-east-1',
        endpoint: profile?.endpoints.ssm,
        awsProfile: profile?.awsProfile,
      });
    }
  }
  return records;
}

/** Bound on sessions.json: about 300 bytes per session, far more sessions than 256 profiles open. */
const MAX_SESSIONS_FILE_BYTES = 1024 * 1024;

/** Terminates sessions a previous daemon left open, e.g. after a crash; failures are logged. */
async function terminateLeftoverSessions(file: string, logger: pino.Logger): Promise<void> {
  let records: SessionRecord[];
  try {
    // Read without following links or blocking, because a FIFO here would hang start-up.
    const content = readStateFile(file, MAX_SESSIONS_FILE_BYTES);
    if (content === null) {
      return;
    }
    try {
      records = (JSON.parse(content.text) as { sessions: SessionRecord[] }).sessions;
    } catch {
      // JSON.parse quotes the start of the text in its message, so it stays out of the log.
      logger.warn({ file }, 'the open-session record is not JSON; leftover sessions stay open');
      return;
    }
  } catch (error) {
    logger.warn(
      { err: error, file },
      'reading the open-session record failed; leftover sessions stay open',
    );
    return;
  }
  if (!Array.isArray(records)) {
    logger.warn(
      { file },
      'the open-session record has no sessions array; leftover sessions stay open',
    );
    return;
  }
  await Promise.all(
    records.map(async (record) => {
      const client = createSsmClient({
        region: record.region,
        endpoint: record.endpoint,
        awsProfile: record.awsProfile,
      });
      try {
        await client.send(new TerminateSessionCommand({ SessionId: record.sessionId }), {
          abortSignal: AbortSignal.timeout(5000),
        });
        logger.info(
          { sessionId: record.sessionId, tunnel: record.tunnel },
          'terminated leftover session',
        );
      } catch (error) {
        logger.warn(
          { err: error, sessionId: record.sessionId, tunnel: record.tunnel },
          'terminating leftover session failed',
        );
      } finally {
        client.destroy();
      }
    }),
  );
  rmSync(file, { force: true });
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const { paths } = options;
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  let lock: DaemonLock;
  try {
    lock = await acquireDaemonLock(paths);
  } catch (error) {
    // The winner of a start race logs for itself, so only other lock failures are logged here,
    // because `bastionless start` points the user to daemon.log for them.
    if (!(error instanceof DaemonAlreadyRunningError)) {
      const log = createLogger({ stateDir: paths.stateDir, level: options.logLevel });
      log.logger.error({ err: error }, 'daemon start failed');
      log.close();
    }
    throw error;
  }

  const log = createLogger({
    stateDir: paths.stateDir,
    foreground: options.foreground,
    level: options.logLevel,
  });
  if (lock.replacedLock) {
    log.logger.warn({ file: paths.pidFile, ...lock.replacedLock }, 'replaced a stale daemon lock');
  }
  try {
    return await runDaemon(options, lock, log);
  } catch (error) {
    log.logger.error({ err: error }, 'daemon start failed');
    lock.release();
    log.close();
    throw error;
  }
}

/** Starts everything behind the lock; on failure undoes what it started and throws. */
async function runDaemon(
  options: DaemonOptions,
  lock: DaemonLock,
  log: DaemonLogger,
): Promise<RunningDaemon> {
  const { paths } = options;
  const logger = log.logger;
  logger.info({ configFile: paths.configFile, stateDir: paths.stateDir }, 'daemon starting');
  const store = new ConfigStore({ file: paths.configFile });
  store.on('invalid', (error: ConfigError) => {
    const keptProfiles = store.profiles.map((profile) => profile.name);
    // A moved or deleted file changes nothing yet: the tunnels run on until it returns.
    const level = error.code === 'ERR_CONFIG_MISSING' ? 'warn' : 'error';
    logger[level](
      {
        code: error.code,
        reason: error.message,
        fields: error.fields,
        file: store.file,
        keptProfiles,
      },
      keptProfiles.length === 0
        ? 'config file rejected; no profiles are loaded until it is fixed'
        : 'config file rejected; keeping the last good profiles',
    );
  });
  store.load();

  await terminateLeftoverSessions(paths.sessionsFile, logger);
  const resume = loadResumeState(paths.resumeFile, logger);

  const mfa = new MfaBroker();
  const audit = createAuditLog(paths.stateDir);
  // The provider refers to the manager created below; it runs only once tunnels start sessions.
  const aws = new ProfileAwsRegistry({
    mfaCodeProvider: async (profile, mfaSerial) => {
      logger.info({ tunnel: profile.name, mfaSerial }, 'waiting for an MFA code');
      manager.beginLoginWait(
        profile.name,
        `waiting for an MFA code for ${mfaSerial}`,
        `Enter the code with \`bastionless mfa CODE\`, in the dashboard or in the tray app.`,
      );
      try {
        return await mfa.requestCode({
          profile: profile.name,
          awsProfile: profile.awsProfile,
          mfaSerial,
        });
      } finally {
        manager.endLoginWait(profile.name);
      }
    },
    onTargetChoice: (profile, choice) =>
      logger.info(
        { tunnel: profile.name, instanceId: choice.instanceId, onlineIds: choice.onlineIds },
        describeTargetChoice(profile.target, choice),
      ),
  });
  mfa.on('mfa-settled', (request: { profile: string; mfaSerial: string }, outcome: string) => {
    logger.info(
      { tunnel: request.profile, mfaSerial: request.mfaSerial, outcome },
      'MFA request settled',
    );
  });
  const manager = new TunnelManager({
    logger,
    startSession: (sessionOptions) => startPortForwardSession(sessionOptions),
    ssmClientFor: (profile) => aws.ssmClientFor(profile),
    refreshCredentials: (profile) => aws.refreshCredentials(profile),
    checkCredentials: (profile) => aws.refreshCredentials(profile),
    resolveTarget: (profile) => aws.resolveTarget(profile),
    resolveRemoteHost: (profile) => aws.resolveRemoteHost(profile),
    invalidateRemoteHost: (profile) => aws.invalidateRemoteHost(profile),
    recordAudit: (entry) => audit.record(entry),
    ...options.managerOverrides,
  });

  // Tunnels change state far more often than their sessions change, and each write costs
  // an fsync, so the file is rewritten only when its content would change.
  let recordedSessions: string | undefined;
  const recordSessions = (): void => {
    const profiles = new Map(store.profiles.map((profile) => [profile.name, profile]));
    const sessions = sessionRecordsOf(manager.list(), profiles);
    const content = `${JSON.stringify({ sessions }, null, 2)}\n`;
    if (content === recordedSessions) {
      return;
    }
    try {
      writeFileAtomic(paths.sessionsFile, content);
      recordedSessions = content;
    } catch (error) {
      logger.warn({ err: error, file: paths.sessionsFile }, 'recording open sessions failed');
    }
  };
  manager.on('state', recordSessions);

  const applyProfiles = (profiles: Profile[]): void => {
    logger.info({ profiles: profiles.map((profile) => profile.name) }, 'applying profiles');
    manager
      .applyProfiles(profiles)
      .then(() => aws.retain(profiles.map((profile) => profile.name)))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'applying profiles failed');
      });
  };
  // The first apply also restores the tunnels the last daemon left running. The resume file
  // is rewritten only after that, so a crash while restoring keeps the full list.
  let restoreTunnelNames: string[] = [];
  if (resume && resume.configFile === paths.configFile) {
    restoreTunnelNames = resume.runningTunnels;
  } else if (resume) {
    logger.info(
      { configFile: paths.configFile, lastConfigFile: resume.configFile },
      'the last daemon used another config file; restoring only autoStart tunnels',
    );
  }
  const restored = manager
    .applyProfiles(store.profiles)
    .then(() => aws.retain(store.profiles.map((profile) => profile.name)))
    .then(() => restoreTunnels(manager, restoreTunnelNames, logger))
    .catch((error: unknown) => logger.error({ err: error }, 'applying profiles failed'));
  logger.info({ profiles: store.profiles.map((profile) => profile.name) }, 'applying profiles');
  store.on('profiles', applyProfiles);
  const stopWatching = store.watch();

  // A shutdown request can arrive as soon as the API listens, before `stop` below exists, so
  // it waits in `pending` until the handler is set.
  const shutdownRequests: { handler?: (reason: string) => void; pending?: string } = {};
  const shutdown = (reason: string): void => {
    if (shutdownRequests.handler) {
      shutdownRequests.handler(reason);
    } else {
      shutdownRequests.pending ??= reason;
    }
  };

  let token: string;
  let api: ApiServer;
  try {
    // The token is never logged, only whether it was reused.
    const loaded = loadOrCreateTokenFile(paths.tokenFile);
    token = loaded.token;
    logger.info(
      { file: paths.tokenFile, reused: loaded.reused, replacedBecause: loaded.replacedBecause },
      loaded.reused ? 'reusing the API token file' : 'created a new API token file',
    );
    api = await listenControlApi(
      {
        manager,
        store,
        token,
        logger: logger.child({ component: 'api' }),
        uiDir: options.uiDir ?? defaultUiDir(),
        version: options.version,
        mfa,
        shutdown,
      },
      options.port,
      resume?.apiPort,
    );
  } catch (error) {
    stopWatching();
    mfa.close();
    await manager.shutdown();
    aws.destroyAll();
    throw error;
  }
  if (!lock.isHeld()) {
    await api.close().catch(() => undefined);
    stopWatching();
    mfa.close();
    await manager.shutdown();
    aws.destroyAll();
    throw new Error(
      `another daemon took over ${paths.pidFile} while this one was starting; run \`bastionless status\``,
    );
  }
  const apiFile: ApiFile = {
    port: api.port,
    pid: process.pid,
    url: api.url,
    configFile: paths.configFile,
  };
  writeFileAtomic(paths.apiFile, `${JSON.stringify(apiFile)}\n`, 0o600);
  logger.info({ port: api.port }, 'daemon ready');

  let stopping: Promise<void> | undefined;
  // Recorded on every tunnel change rather than at shutdown, so a killed daemon also restores.
  const writeResume = createResumeWriter(paths.resumeFile);
  let recordingResume = false;
  const recordResume = (): void => {
    if (!recordingResume) {
      return;
    }
    try {
      writeResume({
        apiPort: api.port,
        configFile: paths.configFile,
        runningTunnels: runningTunnelNames(manager.list()),
      });
    } catch (error) {
      logger.warn({ err: error, file: paths.resumeFile }, 'recording the resume file failed');
    }
  };
  manager.on('state', recordResume);
  void restored.then(() => {
    recordingResume = stopping === undefined;
    recordResume();
  });

  const stop = (reason = 'stop requested'): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'daemon stopping');
      // Shutdown stops every tunnel, and those stops must not erase what the user left running.
      recordingResume = false;
      manager.off('state', recordResume);
      lock.touch();
      stopWatching();
      store.removeAllListeners('profiles');
      rmSync(paths.apiFile, { force: true });
      // The API closes first so no request can start a tunnel while the manager shuts down.
      await api
        .close()
        .catch((error: unknown) => logger.warn({ err: error }, 'closing the API failed'));
      mfa.close();
      await manager.shutdown();
      manager.off('state', recordSessions);
      if (manager.list().every((status) => status.sessionIds.length === 0)) {
        rmSync(paths.sessionsFile, { force: true });
      } else {
        recordSessions();
      }
      aws.destroyAll();
      // The token file stays, so the dashboard's token still works after the next start.
      lock.release();
      logger.info({ reason }, 'daemon stopped');
      log.close();
    })();
    return stopping;
  };

  shutdownRequests.handler = (reason) => {
    logger.info({ reason }, 'shutdown requested');
    if (options.onShutdownRequest) {
      options.onShutdownRequest(reason);
    } else {
      stop(reason).catch((error: unknown) => logger.error({ err: error }, 'stopping failed'));
    }
  };
  if (shutdownRequests.pending !== undefined) {
    shutdownRequests.handler(shutdownRequests.pending);
  }

  return { port: api.port, url: api.url, token, manager, store, logger, stop };
}
