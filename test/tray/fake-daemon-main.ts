// Runs the fake daemon as its own process: `node --import tsx fake-daemon-main.ts STATE_DIR`.
// It exits on SIGTERM, like the real daemon, so launcher tests can watch it stop. With
// `--ignore-sigterm` as the second argument it stays up, like a hung daemon, until SIGKILL.

import { startFakeDaemon } from './fake-daemon.js';

const stateDir = process.argv[2];
if (!stateDir) {
  console.error('usage: fake-daemon-main.ts STATE_DIR');
  process.exit(2);
}
const daemon = await startFakeDaemon(stateDir, `token-${process.pid}`);
process.on('SIGTERM', () => {
  if (process.argv[3] === '--ignore-sigterm') return;
  void daemon.close().then(() => process.exit(0));
});
