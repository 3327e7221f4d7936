// `npm run demo`: the emulator, a demo web page behind it, and the daemon with one tunnel to
// that page, all on 127.0.0.1 in a temporary BASTIONLESS_HOME. Ctrl-C stops everything.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../emulator/index.js';
import { resolvePaths } from '../../daemon/paths.js';
import { startDaemon } from '../../daemon/daemon.js';

const PREFERRED_LOCAL_PORT = 18080;
const DEMO_INSTANCE = 'i-0123456789abcdef0';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>bastionless demo</title></head>
<body><h1>Hello through SSM port forwarding</h1>
<p>This page comes from a private service, reached through the bastionless daemon and the
local SSM emulator.</p></body></html>
`;

async function listenHttp(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** Returns the preferred port when it is free, otherwise any free port. */
async function pickLocalPort(preferred: number): Promise<number> {
  for (const candidate of [preferred, 0]) {
    const probe = createTcpServer();
    const port = await new Promise<number | null>((resolve) => {
      probe.once('error', () => resolve(null));
      probe.listen(candidate, '127.0.0.1', () =>
        resolve((probe.address() as { port: number }).port),
      );
    });
    await new Promise<void>((resolve) =>
      probe.listening ? probe.close(() => resolve()) : resolve(),
    );
    if (port !== null) {
      return port;
    }
  }
  throw new Error('no free local port on 127.0.0.1');
}

/** Writes one line to stdout; after EPIPE the stdout error handler runs the cleanup. */
function log(text: string): void {
  if (process.stdout.writable) {
    process.stdout.write(`${text}\n`);
  }
}

async function main(): Promise<void> {
  // The daemon's AWS SDK clients read these; the emulator accepts any key.
  process.env.AWS_ACCESS_KEY_ID ??= 'AKIAEMULATOREXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'emulator-secret';
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  // The locked AWS SDK runs on Node.js 20; its notice about 2027 releases is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  const emulator = await startEmulator({ pacing: true });
  const web = createHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(PAGE);
  });
  const webPort = await listenHttp(web);

  const home = mkdtempSync(join(tmpdir(), 'bastionless-demo-'));
  const localPort = await pickLocalPort(PREFERRED_LOCAL_PORT);
  const profile = {
    name: 'demo-web',
    groups: ['demo'],
    region: 'us-east-1',
    target: DEMO_INSTANCE,
    remoteHost: '127.0.0.1',
    remotePort: webPort,
    localPort,
    autoStart: true,
    // Every service, so that `doctor` and `targets` reach the emulator and not AWS.
    endpoints: {
      ssm: emulator.url,
      sts: emulator.url,
      ec2: emulator.url,
      rds: emulator.url,
      elasticache: emulator.url,
    },
  };
  writeFileSync(
    join(home, 'config.json'),
    `${JSON.stringify({ version: 2, profiles: [profile] }, null, 2)}\n`,
  );
  const paths = resolvePaths({ env: { BASTIONLESS_HOME: home } });
  const daemon = await startDaemon({ paths });

  let stopping = false;
  // The state directory contains the API token, so it is removed even when a step fails.
  const stop = async (reason: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    log(`\n${reason}: stopping the daemon, the emulator and the demo page`);
    try {
      await daemon.stop(`demo received ${reason}`);
      await emulator.close();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    } finally {
      rmSync(home, { recursive: true, force: true });
      process.exit(0);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void stop(signal));
  }
  // A closed pipe (e.g. `npm run demo | head`) must not skip the cleanup.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    void stop(error.code === 'EPIPE' ? 'stdout closed (EPIPE)' : `stdout failed: ${error.message}`);
  });

  const check = await fetch(`http://127.0.0.1:${localPort}/`, {
    signal: AbortSignal.timeout(20_000),
  });
  const cli = `BASTIONLESS_HOME=${home} npx bastionless`;
  log(`bastionless demo is running (checked: the tunnel answered HTTP ${check.status})

  Demo page through the tunnel:  curl http://127.0.0.1:${localPort}/
  Tunnel status:                 ${cli} status
  Dashboard:                     ${daemon.url}/#token=${daemon.token}
  Metrics:                       curl -H "Authorization: Bearer ${daemon.token}" ${daemon.url}/metrics
  Emulator (SSM endpoint):       ${emulator.url}
  Config and state:              ${home}

Press Ctrl-C to stop everything.`);
}

main().catch((error: Error) => {
  console.error(`demo failed: ${error.message}`);
  process.exit(1);
});
