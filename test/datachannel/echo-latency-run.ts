// Measures the round trip of a 1-byte message through startPortForwardSession to an echo
// server, against an emulator in another process, and prints the median and p90.
//
//   npm run emulator -- --port 4566 --no-pacing
//   npx tsx test/datachannel/echo-latency-run.ts http://127.0.0.1:4566 [roundTrips]

import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

import { startPortForwardSession } from '../../daemon/portforward/index.js';
import { emulatorClient, forwardListener, listen } from '../portforward/helpers.js';

const ROUND_TRIP_TIMEOUT_MS = 5_000;

function percentile(sortedMs: number[], fraction: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(sortedMs.length * fraction))]!;
}

/** Sends one byte and resolves with the milliseconds until it comes back. */
async function roundTrip(socket: Socket): Promise<number> {
  const started = performance.now();
  const received = once(socket, 'data', { signal: AbortSignal.timeout(ROUND_TRIP_TIMEOUT_MS) });
  socket.write(Buffer.from([0x2a]));
  const [chunk] = (await received) as [Buffer];
  if (chunk.length !== 1 || chunk[0] !== 0x2a) {
    throw new Error(`echo returned ${chunk.toString('hex')}, expected the single byte 2a`);
  }
  return performance.now() - started;
}

async function main(): Promise<void> {
  const endpoint = process.argv[2];
  const roundTrips = Number(process.argv[3] ?? '200');
  if (endpoint === undefined || !Number.isInteger(roundTrips) || roundTrips <= 0) {
    console.error('usage: echo-latency-run.ts EMULATOR_URL [ROUND_TRIPS]');
    process.exitCode = 2;
    return;
  }
  const echo = createServer((socket) => socket.pipe(socket));
  const remotePort = await listen(echo);
  const ssm = emulatorClient(endpoint);
  const session = await startPortForwardSession({
    getSsmClient: () => ssm,
    target: 'i-0123456789abcdef0',
    remoteHost: '127.0.0.1',
    remotePort,
  });
  const { server, port } = await forwardListener(session);
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');

  // The first round trips include the agent's dial to the echo server.
  for (let i = 0; i < 10; i += 1) {
    await roundTrip(socket);
  }
  const samplesMs: number[] = [];
  for (let i = 0; i < roundTrips; i += 1) {
    samplesMs.push(await roundTrip(socket));
  }
  samplesMs.sort((a, b) => a - b);
  console.log(
    `1-byte echo over ${roundTrips} round trips: p50 ${percentile(samplesMs, 0.5).toFixed(2)} ms, ` +
      `p90 ${percentile(samplesMs, 0.9).toFixed(2)} ms`,
  );

  socket.destroy();
  server.close();
  echo.close();
  await session.close('echo latency run finished');
}

main().catch((error: Error) => {
  console.error(`echo latency run failed: ${error.message}`);
  process.exitCode = 1;
});
