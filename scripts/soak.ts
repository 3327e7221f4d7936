// `npm run soak`: the fault-injection soak of test/reliability/harness/soak.ts for
// SOAK_SECONDS (default 1800), with progress lines on stderr and the figures as JSON on
// stdout. Exits 1 when a byte was lost, a connection failed or daemon RSS grew over 10%.

import { runSoak } from '../test/reliability/harness/soak.js';

const MAX_RSS_GROWTH = 0.1;

async function main(): Promise<void> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 1800);
  if (!Number.isFinite(seconds) || seconds < 10) {
    console.error(
      `invalid SOAK_SECONDS ${process.env.SOAK_SECONDS}: expected a number of seconds, at least 10`,
    );
    process.exitCode = 2;
    return;
  }
  const seed = process.env.SOAK_SEED === undefined ? undefined : Number(process.env.SOAK_SEED);
  console.error(`soak: ${seconds} s, 20 connections, faults on; progress every 30 s`);
  const figures = await runSoak({
    durationMs: seconds * 1000,
    seed,
    log: (line) => console.error(`soak: ${line}`),
  });
  console.log(JSON.stringify(figures, null, 2));
  const lost = figures.connections.failed + figures.connections.mismatched;
  if (lost > 0 || !(figures.rss.growth <= MAX_RSS_GROWTH)) {
    console.error(
      `soak failed: ${lost} connections lost or corrupted, daemon RSS growth ${(figures.rss.growth * 100).toFixed(1)}%`,
    );
    process.exitCode = 1;
  }
}

main().catch((error: Error) => {
  console.error(`soak failed to run: ${error.message}`);
  process.exitCode = 1;
});
