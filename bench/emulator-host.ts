// Child process running the SSM emulator for the bench, apart from the tunnel under test
// and the load generator, so the three do not share one event loop.
//
// Usage: tsx bench/emulator-host.ts pacing|no-pacing
// It prints one JSON line {"url": "http://127.0.0.1:PORT"} once listening, then runs
// until SIGTERM or SIGINT.

import { startEmulator } from '../test/emulator/index.js';

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== 'pacing' && mode !== 'no-pacing') {
    throw new Error(
      `invalid pacing argument ${JSON.stringify(mode)}: expected pacing or no-pacing`,
    );
  }
  const emulator = await startEmulator({ pacing: mode === 'pacing' });
  process.stdout.write(`${JSON.stringify({ url: emulator.url })}\n`);
  const stop = async (): Promise<void> => {
    await emulator.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`emulator host failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
