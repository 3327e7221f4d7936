// Hand-written SVG bar chart of pacing-off throughput per path, on a log scale because
// the paths differ by orders of magnitude.

import type { BenchResults } from './results.js';
import type { Throughput } from './suite.js';

const WIDTH = 760;
const LEFT = 190;
const RIGHT = 110;
const TOP = 40;
const BAR_HEIGHT = 14;
const GROUP_GAP = 18;
const MIN_MB = 0.1;
const MAX_MB = 10_000;

const SERIES = [
  { key: 'direct', label: 'direct TCP', color: '#4c78a8' },
  { key: 'ssh', label: 'ssh -L', color: '#f58518' },
  { key: 'emulator', label: 'emulator alone', color: '#9d9d9d' },
  { key: 'bastionless', label: 'bastionless', color: '#54a24b' },
] as const;

const GROUPS = [
  { key: 'download1', label: 'download, 1 conn' },
  { key: 'upload1', label: 'upload, 1 conn' },
  { key: 'download8', label: 'download, 8 conns' },
  { key: 'upload8', label: 'upload, 8 conns' },
] as const;

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function xFor(mbPerSecond: number): number {
  const clamped = Math.min(MAX_MB, Math.max(MIN_MB, mbPerSecond));
  const span = Math.log10(MAX_MB) - Math.log10(MIN_MB);
  return LEFT + ((Math.log10(clamped) - Math.log10(MIN_MB)) / span) * (WIDTH - LEFT - RIGHT);
}

function entryFor(
  results: BenchResults,
  series: (typeof SERIES)[number]['key'],
  group: (typeof GROUPS)[number]['key'],
): Throughput | undefined {
  if (series === 'direct') return results.paths.direct[group];
  if (series === 'ssh') return results.paths.ssh[group];
  if (series === 'bastionless') return results.paths.bastionlessPacingOff[group];
  return group === 'upload8' ? undefined : results.emulator.pacingOff[group];
}

function axis(height: number): string[] {
  const parts: string[] = [];
  for (let exponent = -1; exponent <= 4; exponent++) {
    const value = 10 ** exponent;
    const x = xFor(value).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${height - 30}" stroke="#ddd"/>`,
      `<text x="${x}" y="${height - 16}" text-anchor="middle">${value} MB/s</text>`,
    );
  }
  return parts;
}

/** Returns a complete SVG document; missing measurements are left out of their group. */
export function renderSvg(results: BenchResults): string {
  const groupHeight = SERIES.length * BAR_HEIGHT + GROUP_GAP;
  const height = TOP + GROUPS.length * groupHeight + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
      `viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="18" font-size="13" font-weight="bold">Throughput, pacing off ` +
      `(log scale, ${escapeXml(results.date.slice(0, 10))})</text>`,
    ...axis(height),
  ];
  GROUPS.forEach((group, groupIndex) => {
    const groupTop = TOP + groupIndex * groupHeight;
    parts.push(
      `<text x="${LEFT - 8}" y="${groupTop + (SERIES.length * BAR_HEIGHT) / 2 + 4}" ` +
        `text-anchor="end" font-weight="bold">${group.label}</text>`,
    );
    SERIES.forEach((series, seriesIndex) => {
      const entry = entryFor(results, series.key, group.key);
      if (!entry || !Number.isFinite(entry.mbPerSecond)) {
        return;
      }
      const y = groupTop + seriesIndex * BAR_HEIGHT;
      const end = xFor(entry.mbPerSecond);
      const label = `${series.label}: ${entry.mbPerSecond} MB/s${entry.exact ? '' : ' (FAILED)'}`;
      parts.push(
        `<rect x="${LEFT}" y="${y}" width="${(end - LEFT).toFixed(1)}" ` +
          `height="${BAR_HEIGHT - 2}" fill="${series.color}"/>`,
        `<text x="${(end + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 4}">${escapeXml(label)}</text>`,
      );
    });
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
