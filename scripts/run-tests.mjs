#!/usr/bin/env node
// Run the vitest suite and end with one plain "N passed, N failed, N skipped" line,
// the summary format that CI reads whatever the test runner is.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const outDir = mkdtempSync(join(tmpdir(), 'bastionless-vitest-'));
const report = join(outDir, 'report.json');
const result = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);

let summary;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = json.numPendingTests + json.numTodoTests;
  summary = `${json.numPassedTests} passed, ${json.numFailedTests} failed, ${skipped} skipped`;
  if (json.numFailedTestSuites > 0) {
    console.log(`${json.numFailedTestSuites} test files failed to run`);
  }
} catch (error) {
  console.error(`could not read the vitest JSON report at ${report}: ${error.message}`);
}
rmSync(outDir, { recursive: true, force: true });
if (summary) {
  console.log(summary);
}
process.exit(result.status ?? 1);
