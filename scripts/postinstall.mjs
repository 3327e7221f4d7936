#!/usr/bin/env node
// Runs after `npm install` and `npm ci`. Electron is an optional dependency: when its binary
// cannot be downloaded, its install script fails and npm removes the package without a word.
// This prints one line naming what is missing, so the user learns it now and not at
// `npm run tray`. It reads only the local node_modules, uses no network and never fails the
// install.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Returns why the tray cannot start, or null when Electron and its binary are installed. */
function electronProblem() {
  try {
    require.resolve('electron');
  } catch {
    return 'the electron package is not installed';
  }
  try {
    // The package exports the binary's path, and throws when its download did not finish.
    require('electron');
  } catch {
    return 'the electron package is installed but its binary is missing';
  }
  return null;
}

try {
  const problem = electronProblem();
  if (problem !== null) {
    // stderr, because it is a warning. npm 11 shows both streams of the root package's own
    // scripts, as `npm ci` in a fresh clone showed.
    process.stderr.write(
      `bastionless: ${problem}, which the tray app (\`npm run tray\`) needs; install it with ` +
        '`npm install electron@40` on a machine that can download it. The dashboard ' +
        '(`bastionless dashboard`) works without it.\n',
    );
  }
} catch {
  // A check that fails must not fail the install.
}
