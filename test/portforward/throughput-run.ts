// Measures one 100 MB download and one 100 MB upload through startPortForwardSession,
// against an emulator in another process, so `node --cpu-prof` sees only this client.
//
//   npm run emulator -- --port 4566 --no-pacing
//   npx tsx test/portforward/throughput-run.ts http://127.0.0.1:4566 [megabytes] [maxPayloadBytes] [windowBytes]
//
// The target server runs in this process, so its hashing shows up in profiles too.

import { startPortForwardSession } from '../../daemon/portforward/index.js';
import { TransferServer, emulatorClient, forwardListener, listen, transfer } from './helpers.js';

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const endpoint = process.argv[2];
  const megabytes = Number(process.argv[3] ?? '100');
  const maxPayloadBytes = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
  const windowBytes = process.argv[5] === undefined ? undefined : Number(process.argv[5]);
  if (endpoint === undefined || !Number.isFinite(megabytes) || megabytes <= 0) {
    console.error('usage: throughput-run.ts EMULATOR_URL [MEGABYTES]');
    process.exitCode = 2;
    return;
  }
  const target = new TransferServer();
  const remotePort = await listen(target.server);
  const ssm = emulatorClient(endpoint);
  const session = await startPortForwardSession({
    getSsmClient: () => ssm,
    target: 'i-0123456789abcdef0',
    remoteHost: '127.0.0.1',
    remotePort,
    dataChannel: { maxPayloadBytes, windowBytes },
  });
  const { server, port } = await forwardListener(session);
  const bytes = megabytes * MB;

  for (const [name, upload, download] of [
    ['download', 0, bytes],
    ['upload', bytes, 0],
  ] as const) {
    const started = performance.now();
    const result = await transfer(port, upload, download);
    const seconds = (performance.now() - started) / 1000;
    const ok = download > 0 ? result.downloadOk : true;
    console.log(
      `${name}: ${megabytes} MB in ${seconds.toFixed(1)} s = ${(megabytes / seconds).toFixed(1)} MB/s, intact: ${ok}`,
    );
  }
  server.close();
  target.server.close();
  await session.close('throughput run finished');
}

main().catch((error: Error) => {
  console.error(`throughput run failed: ${error.message}`);
  process.exitCode = 1;
});
