// Vitest setup file. Tests remove their temporary homes when they finish, and with them the
// daemon logs that the secrets scan must read at the end of the run. While
// BASTIONLESS_TEST_SUITE_DIR is set, fs.rm, fs.rmSync and fs.promises.rm first copy every
// daemon log, audit log and API token file in the tree they remove into the suite's
// kept-logs folder, then remove as asked. Without the variable nothing is patched.

import fs, { type Stats } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, join, relative } from 'node:path';
import {
  PLANTED_PREFIX,
  isScannedLogFile,
  isTokenFile,
  keptLogsDir,
  suiteDir,
} from './suite-secrets.js';

/** Test trees are shallow, so this bound only stops a walk into a deep unrelated folder. */
const MAX_DEPTH = 8;

const originalRmSync = fs.rmSync;
const originalRm = fs.rm;
const originalPromisesRm = fs.promises.rm;
let copies = 0;

function statOrUndefined(path: string): Stats | undefined {
  try {
    return fs.lstatSync(path);
  } catch {
    return undefined;
  }
}

function keptFiles(root: string): string[] {
  const stats = statOrUndefined(root);
  if (!stats) {
    return [];
  }
  if (stats.isFile()) {
    const name = basename(root);
    return isScannedLogFile(name) || isTokenFile(name) ? [root] : [];
  }
  if (!stats.isDirectory()) {
    return [];
  }
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > MAX_DEPTH) {
      return;
    }
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path, depth + 1);
      } else if (entry.isFile() && (isScannedLogFile(entry.name) || isTokenFile(entry.name))) {
        found.push(path);
      }
    }
  };
  walk(root, 0);
  return found;
}

/** Copies the scanned files under `target` into the kept-logs folder before removal. */
function keepLogs(target: fs.PathLike): void {
  const dir = suiteDir();
  if (!dir || typeof target !== 'string') {
    return;
  }
  const root = target;
  if (basename(root).startsWith(PLANTED_PREFIX)) {
    return;
  }
  const files = keptFiles(root);
  if (files.length === 0) {
    return;
  }
  copies += 1;
  const destination = join(keptLogsDir(dir), `${process.pid}-${copies}`);
  for (const file of files) {
    const relativePath = relative(root, file) || basename(file);
    const copy = join(destination, relativePath);
    fs.mkdirSync(join(copy, '..'), { recursive: true });
    try {
      fs.copyFileSync(file, copy);
    } catch {
      // A file removed by its daemon between the walk and the copy has nothing left to scan.
    }
  }
  fs.writeFileSync(join(destination, 'origin.txt'), `${root}\n`);
}

if (suiteDir()) {
  fs.rmSync = ((path: fs.PathLike, options?: fs.RmOptions) => {
    keepLogs(path);
    originalRmSync(path, options);
  }) as typeof fs.rmSync;
  fs.rm = ((path: fs.PathLike, ...rest: unknown[]) => {
    keepLogs(path);
    (originalRm as (...args: unknown[]) => void)(path, ...rest);
  }) as typeof fs.rm;
  fs.promises.rm = async (path: fs.PathLike, options?: fs.RmOptions) => {
    keepLogs(path);
    return originalPromisesRm(path, options);
  };
  syncBuiltinESMExports();
}
