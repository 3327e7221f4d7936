import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Keeps daemon logs that tests remove, for the secrets scan at the end of `npm test`.
    setupFiles: ['test/helpers/keep-logs.setup.ts'],
    env: {
      // Silences the AWS SDK's notice that its 2027 releases will need Node.js 22.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // Commands that a test runs without a home of its own (connect writes the audit log)
      // write here, never into the state directory of the user who runs the tests.
      BASTIONLESS_HOME: mkdtempSync(join(tmpdir(), 'bastionless-test-home-')),
    },
  },
});
