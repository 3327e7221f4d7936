import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './ports.js';

const EPHEMERAL_START = 32_768;
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

function listen(port: number): Promise<Server> {
  const server = createServer();
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve(server));
  });
}

describe('freePort', () => {
  it('stays in the worker block', async () => {
    const poolId = Number(process.env.VITEST_POOL_ID ?? '1');
    const blockStart = 20_000 + ((poolId - 1) % 15) * 800;
    const port = await freePort();

    expect(port).toBeGreaterThanOrEqual(blockStart);
    expect(port).toBeLessThan(blockStart + 800);
    expect(port).toBeLessThan(EPHEMERAL_START);
  });

  it('returns a port that can be bound', async () => {
    const port = await freePort();

    await expect(listen(port)).resolves.toBeDefined();
  });

  it('differs between calls before a bind', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);

    expect(new Set(ports).size).toBe(3);
  });

  it('skips a port in use', async () => {
    const busyPort = await freePort();
    await listen(busyPort);
    const ports: number[] = [];
    // The cursor comes back to `busyPort` after at most one pass over the 800-port block.
    for (let index = 0; index < 800; index += 1) {
      ports.push(await freePort());
    }

    expect(ports).not.toContain(busyPort);
  });
});
