// TCP ports for tests that must name a port before another part binds it, such as a profile's
// localPort that a daemon process binds seconds later.
//
// A port found with listen(0) and closed again comes from the kernel's ephemeral range
// (32768-60999 by default on Linux). Every listen(0) and outgoing connection of the test files
// running at the same time draws from that range too, so one of them can take the port before
// the daemon binds it. These ports come from below that range instead, from a block of its own
// for each vitest worker (VITEST_POOL_ID, 1 to maxWorkers), so the parallel files of one run
// never pick the same port.

import { createServer } from 'node:net';

const FIRST_PORT = 20_000;
const BLOCK_SIZE = 800;
// 15 blocks of 800 end at 32000, below the ephemeral range. Workers beyond 15 share blocks.
const BLOCK_COUNT = 15;

function blockStart(): number {
  const poolId = Number(process.env.VITEST_POOL_ID ?? '1');
  const block = Number.isInteger(poolId) && poolId > 0 ? (poolId - 1) % BLOCK_COUNT : 0;
  return FIRST_PORT + block * BLOCK_SIZE;
}

// Each call moves on to the next port, so two ports taken before either is bound differ. The
// random start keeps separate vitest runs on one machine from walking the same ports together.
let nextOffset = Math.floor(Math.random() * BLOCK_SIZE);

function canListen(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}

/**
 * Returns a port of this worker's block that `host` can listen on now, for a process that binds
 * it later. Throws when every port of the block is taken.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const start = blockStart();
  for (let attempt = 0; attempt < BLOCK_SIZE; attempt += 1) {
    const port = start + (nextOffset % BLOCK_SIZE);
    nextOffset += 1;
    if (await canListen(host, port)) {
      return port;
    }
  }
  throw new Error(
    `no free port on ${host} in ${start}-${start + BLOCK_SIZE - 1}; stop the processes that listen on them`,
  );
}
