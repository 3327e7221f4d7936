#!/usr/bin/env node
// Run the vitest suite and end with one plain "N passed, N failed, N skipped" line,
// the summary format that CI reads whatever the test runner is.
//
// The secrets scan runs in a second pass, after every other test file has finished, so it
// reads the logs and audit files that the whole suite wrote. Both passes share one suite
// directory (BASTIONLESS_TEST_SUITE_DIR, with TMPDIR inside it): the emulator records there
// every secret it hands out, and test/helpers/keep-logs.setup.ts keeps a copy of each daemon
// log that a test removes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SECRETS_SCAN = 'test/security/secrets-scan.test.ts';
const outDir = mkdtempSync(join(tmpdir(), 'bastionless-vitest-'));
const suiteDir = mkdtempSync(join(tmpdir(), 'bastionless-suite-'));
const suiteTmp = join(suiteDir, 'tmp');
mkdirSync(suiteTmp);
const suiteEnv = { ...process.env, BASTIONLESS_TEST_SUITE_DIR: suiteDir, TMPDIR: suiteTmp };
const filters = process.argv.slice(2);

/** Runs vitest once and returns its exit status and the counts of its JSON report. */
function runVitest(name, args, extraEnv = {}) {
  const report = join(outDir, `${name}.json`);
  const result = spawnSync(
    'npx',
    [
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
      ...args,
    ],
    { stdio: 'inherit', env: { ...suiteEnv, ...extraEnv } },
  );
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    return {
      status: result.status ?? 1,
      passed: json.numPassedTests,
      failed: json.numFailedTests,
      skipped: json.numPendingTests + json.numTodoTests,
      // numFailedTestSuites counts describe blocks as well as files, so count the files here.
      failedFiles: json.testResults.filter((file) => file.status === 'failed').length,
    };
  } catch (error) {
    console.error(`could not read the vitest JSON report at ${report}: ${error.message}`);
    return { status: result.status ?? 1, passed: 0, failed: 1, skipped: 0, failedFiles: 1 };
  }
}

const runs = [];
if (filters.length > 0) {
  runs.push(runVitest('filtered', filters));
} else {
  runs.push(runVitest('suite', ['--exclude', SECRETS_SCAN]));
  // Tells the scan that every test file ran, so it can demand a log from each kind of test.
  runs.push(runVitest('secrets-scan', [SECRETS_SCAN], { BASTIONLESS_TEST_WHOLE_SUITE: '1' }));
}
rmSync(outDir, { recursive: true, force: true });
const allPassed = runs.every((run) => run.status === 0);
if (allPassed) {
  rmSync(suiteDir, { recursive: true, force: true });
} else {
  console.log(`test homes, logs and recorded secrets kept for inspection in ${suiteDir}`);
}

const total = runs.reduce(
  (sum, run) => ({
    passed: sum.passed + run.passed,
    failed: sum.failed + run.failed,
    skipped: sum.skipped + run.skipped,
    failedFiles: sum.failedFiles + run.failedFiles,
  }),
  { passed: 0, failed: 0, skipped: 0, failedFiles: 0 },
);
if (total.failedFiles > 0) {
  console.log(`${total.failedFiles} test file${total.failedFiles === 1 ? '' : 's'} failed`);
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(allPassed ? 0 : 1);
