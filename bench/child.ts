// Starting and stopping the bench's helper programs (emulator, tunnel host, daemon) as
// child processes whose pid is the Node process itself, so /proc readings are theirs.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Last lines of stderr, for error messages. */
  stderrTail(): string;
  stop(): Promise<void>;
}

/** Spawns `node NODE_ARGS --import tsx SCRIPT ARGS` from the repository root. */
export function spawnTsx(
  script: string,
  args: string[],
  options: SpawnOptions = {},
  nodeArgs: string[] = [],
): Child {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  return wrapChild(child, script);
}

function wrapChild(child: ChildProcess, name: string): Child {
  const tail: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    tail.push(chunk.toString());
    if (tail.length > 20) {
      tail.shift();
    }
  });
  if (child.pid === undefined) {
    throw new Error(`could not start ${name}`);
  }
  return {
    process: child,
    pid: child.pid,
    stderrTail: () => tail.join('').slice(-2000),
    stop: () => stopChild(child),
  };
}

/** Compiled program and the commit it was built from. */
export interface CompiledScript {
  entry: string;
  commit: string;
}

/**
 * Compiles `script` as committed at HEAD, with what it imports, into .bench-out/build
 * (ignored by git). Building from HEAD keeps other people's unfinished edits in the
 * working tree out of the measurement. Memory readings of a compiled program also leave
 * out the tsx loader, which alone takes tens of MB of RSS.
 */
export function compileScript(script: string): CompiledScript {
  const base = join(REPO_ROOT, '.bench-out');
  const sourceDir = join(base, 'src');
  const outDir = join(base, 'build');
  // Fresh directories each time: JavaScript left from an older tree must never run.
  rmSync(sourceDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(sourceDir, { recursive: true });
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  }).stdout.trim();
  const archive = spawnSync(
    'sh',
    ['-c', `git archive HEAD daemon bench | tar -x -C ${JSON.stringify(sourceDir)}`],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  if (archive.status !== 0) {
    throw new Error(`git archive of HEAD into ${sourceDir} failed: ${archive.stderr}`);
  }
  const result = spawnSync(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      ...['--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext'],
      ...['--outDir', outDir, '--rootDir', sourceDir, '--skipLibCheck', '--types', 'node'],
      join(sourceDir, script),
    ],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  const entry = join(outDir, script.replace(/\.ts$/, '.js'));
  // Type errors elsewhere in the tree do not stop tsc from writing JavaScript.
  if (!existsSync(entry)) {
    throw new Error(`tsc did not write ${entry}: ${result.stdout}${result.stderr}`);
  }
  return { entry, commit };
}

/** Spawns `node NODE_ARGS ENTRY ARGS` for a compiled entry from compileScript(). */
export function spawnNode(
  entry: string,
  args: string[],
  options: SpawnOptions = {},
  nodeArgs: string[] = [],
): Child {
  return wrapChild(
    spawn(process.execPath, [...nodeArgs, entry, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    }),
    entry,
  );
}

/** Sends SIGTERM, then SIGKILL after `graceMs` if the child is still running. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves with the first stdout line that parses as JSON; rejects on exit or timeout. */
export function readJsonLine<T>(child: Child, timeoutMs: number): Promise<T> {
  const stdout = child.process.stdout;
  if (!stdout) {
    return Promise.reject(new Error('child has no stdout pipe'));
  }
  const lines = createInterface({ input: stdout });
  return new Promise<T>((resolve, reject) => {
    const finish = (error: Error | undefined, value?: T): void => {
      clearTimeout(timer);
      child.process.off('exit', onExit);
      lines.off('line', onLine);
      if (error) {
        reject(error);
      } else {
        resolve(value as T);
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`no JSON line within ${timeoutMs} ms: ${child.stderrTail()}`)),
      timeoutMs,
    );
    const onExit = (code: number | null): void =>
      finish(new Error(`child exited with code ${code}: ${child.stderrTail()}`));
    const onLine = (line: string): void => {
      try {
        finish(undefined, JSON.parse(line) as T);
      } catch {
        // Other output before the ready line is allowed.
      }
    };
    child.process.on('exit', onExit);
    lines.on('line', onLine);
  });
}
