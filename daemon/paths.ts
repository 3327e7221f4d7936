// Locations of the config file and the runtime state (port, token, pid, logs), and readers
// for the state files that the CLI uses without loading the daemon.

import { readStateFile } from './state-file.js';
import { homedir as osHomedir } from 'node:os';
import { join, resolve } from 'node:path';

const APP_NAME = 'bastionless';

export interface PathOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  homedir?: string;
  /** Value of the `--config FILE` flag; takes precedence over BASTIONLESS_CONFIG. */
  configFile?: string;
}

export interface BastionlessPaths {
  configFile: string;
  stateDir: string;
  /** JSON `{ port, pid }` of the running control API. */
  apiFile: string;
  /** Bearer token of the control API, mode 0600. */
  tokenFile: string;
  pidFile: string;
  /** Session ids of open SSM sessions, so a restarted daemon can terminate leftovers. */
  sessionsFile: string;
  /**
   * Control API port, config file and running tunnels of the last daemon, so the next daemon
   * keeps the dashboard's address and reopens the tunnels the user left running.
   */
  resumeFile: string;
  logFile: string;
  /** Standard error of a daemon that `bastionless start` runs in the background. */
  stderrFile: string;
}

/**
 * Resolves the config file and state directory. BASTIONLESS_HOME=DIR puts both under DIR;
 * otherwise the config file sits where the `conf` package (v15, through env-paths) puts a
 * project named "bastionless", and state sits in the platform's per-user state folder.
 */
export function resolvePaths(options: PathOptions = {}): BastionlessPaths {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const home = options.homedir ?? osHomedir();

  let configFile: string;
  let stateDir: string;
  if (env.BASTIONLESS_HOME) {
    const base = resolve(env.BASTIONLESS_HOME);
    configFile = join(base, 'config.json');
    stateDir = join(base, 'state');
  } else {
    configFile = join(defaultConfigDir(env, platform, home), 'config.json');
    stateDir = defaultStateDir(env, platform, home);
  }

  const override = options.configFile ?? env.BASTIONLESS_CONFIG;
  if (override) {
    configFile = resolve(override);
  }

  return {
    configFile,
    stateDir,
    apiFile: join(stateDir, 'api.json'),
    tokenFile: join(stateDir, 'token'),
    pidFile: join(stateDir, 'daemon.pid'),
    sessionsFile: join(stateDir, 'sessions.json'),
    resumeFile: join(stateDir, 'resume.json'),
    logFile: join(stateDir, 'daemon.log'),
    stderrFile: join(stateDir, 'daemon.stderr.log'),
  };
}

/** Same rules as env-paths' `config` with conf's default "-nodejs" suffix. */
function defaultConfigDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  const name = `${APP_NAME}-nodejs`;
  if (platform === 'darwin') {
    return join(home, 'Library', 'Preferences', name);
  }
  if (platform === 'win32') {
    const appData = env.APPDATA ?? join(home, 'AppData', 'Roaming');
    return join(appData, name, 'Config');
  }
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), name);
}

function defaultStateDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (platform === 'darwin') {
    return join(home, 'Library', 'Application Support', APP_NAME);
  }
  if (platform === 'win32') {
    const localAppData = env.LOCALAPPDATA ?? join(home, 'AppData', 'Local');
    return join(localAppData, APP_NAME, 'State');
  }
  return join(env.XDG_STATE_HOME ?? join(home, '.local', 'state'), APP_NAME);
}

/** Contents of the API file that the CLI, tray and dashboard read to find the daemon. */
export interface ApiFile {
  port: number;
  pid: number;
  url: string;
  /**
   * Config file of the daemon, named when another daemon finds it holding a port and when
   * `status --config` names a file that the daemon does not use.
   */
  configFile?: string;
}

/** Returns true when a process with this pid exists; EPERM means it exists under another user. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the pid file; returns null when it is missing, unreadable or names a dead process. */
export function readLivePid(pidFile: string): number | null {
  let pid: number;
  try {
    // The lock file is a few bytes. readStateFile neither follows a link nor blocks on a FIFO.
    const content = readStateFile(pidFile, 4096);
    if (content === null) {
      return null;
    }
    pid = Number.parseInt(content.text.trim(), 10);
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 0 && processExists(pid) ? pid : null;
}
