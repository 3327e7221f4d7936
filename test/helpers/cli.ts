// Spawn the bastionless CLI from source, so tests always run the code under test
// rather than a stale build in dist/.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  /** Resolve with the first output line that matches, or reject after timeoutMs. */
  waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  /** Resolve with the exit code once the process exits. */
  exited: Promise<number | null>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  let text = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const waiter of waiters.splice(0)) {
      waiter();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const waitForLine = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${text}`),
        );
      }, timeoutMs);
      const check = () => {
        const line = text.split('\n').find((candidate) => pattern.test(candidate));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(line);
          return;
        }
        if (child.exitCode !== null) {
          clearTimeout(timer);
          reject(
            new Error(`CLI exited with ${child.exitCode} before printing ${pattern}:\n${text}`),
          );
          return;
        }
        waiters.push(check);
      };
      child.on('exit', check);
      check();
    });

  return { child, output: () => text, waitForLine, exited };
}
