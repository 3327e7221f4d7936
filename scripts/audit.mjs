#!/usr/bin/env node
// Runs `npm audit --omit=dev` and fails when a package that users install has a high or
// critical advisory. Where the registry's advisory service returns no report (some mirrors and
// proxies reply 405 to its POST requests), the script prints that and exits 0, because no result
// exists to judge; BASTIONLESS_AUDIT_REQUIRED=1 turns that case into a failure.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const BLOCKING = new Set(['high', 'critical']);

/**
 * Reads the JSON that `npm audit --json` printed. Returns `{ available: false, reason }`
 * when npm could not get a report, else the counts by severity and the blocking findings.
 */
export function summarizeAudit(text) {
  let report;
  try {
    report = JSON.parse(text);
  } catch {
    return { available: false, reason: `npm audit printed no JSON: ${text.slice(0, 200)}` };
  }
  if (!report.metadata?.vulnerabilities) {
    const status = report.statusCode ? `HTTP ${report.statusCode}` : 'no report';
    const detail = report.message ?? report.error?.summary ?? '';
    return { available: false, reason: `${status}${detail ? `: ${detail}` : ''}` };
  }
  const findings = Object.values(report.vulnerabilities ?? {})
    .filter((entry) => BLOCKING.has(entry.severity))
    .map((entry) => ({
      name: entry.name,
      severity: entry.severity,
      range: entry.range,
      via: entry.via.map((via) => (typeof via === 'string' ? via : via.title)).join('; '),
    }));
  return { available: true, counts: report.metadata.vulnerabilities, findings };
}

function main() {
  const result = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' });
  if (result.error) {
    console.error(`npm audit could not run: ${result.error.message}`);
    return 1;
  }
  const summary = summarizeAudit(result.stdout);
  if (!summary.available) {
    console.log(`npm audit --omit=dev: the advisory service gave no report (${summary.reason}).`);
    console.log(
      'No audit result exists for this run; rerun where the registry serves audit requests.',
    );
    return process.env.BASTIONLESS_AUDIT_REQUIRED === '1' ? 1 : 0;
  }
  const counts = Object.entries(summary.counts)
    .filter(([severity]) => severity !== 'total')
    .map(([severity, count]) => `${count} ${severity}`)
    .join(', ');
  console.log(`npm audit --omit=dev: ${counts}`);
  for (const finding of summary.findings) {
    console.log(`  ${finding.severity}: ${finding.name} ${finding.range} (${finding.via})`);
  }
  if (summary.findings.length > 0) {
    console.log('Update the packages above (`npm audit fix --omit=dev`) before release.');
    return 1;
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exit(main());
}
