// Runs the daemon in a process of its own with the dashboard built into BASTIONLESS_UI_DIR, so a
// test can freeze it with SIGSTOP. Prints one JSON line with the pid, URL and token once ready.

import { startDaemon } from '../../daemon/daemon.js';
import { resolvePaths } from '../../daemon/paths.js';

const daemon = await startDaemon({
  paths: resolvePaths(),
  uiDir: process.env.BASTIONLESS_UI_DIR,
  logLevel: 'silent',
});
process.once('SIGTERM', () => {
  void daemon.stop('received SIGTERM').finally(() => process.exit(0));
});
process.stdout.write(
  `${JSON.stringify({ pid: process.pid, url: daemon.url, token: daemon.token })}\n`,
);
