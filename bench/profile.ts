// Summary of a V8 CPU profile written by `node --cpu-prof`: self time per function.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { HotSpot } from './results.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Returns the newest .cpuprofile file in `dir`, or undefined when there is none. */
export function findProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  files.sort();
  const last = files.at(-1);
  return last === undefined ? undefined : join(dir, last);
}

/** Ranks functions by self time; idle and garbage-collector samples are kept as such. */
export function summarizeProfile(
  path: string,
  repoRoot: string,
  limit: number,
): { sampledSeconds: number; hotSpots: HotSpot[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (!frame) {
      return;
    }
    const url = frame.url.replace(/^file:\/\//, '');
    const location = url.startsWith(repoRoot)
      ? `${relative(repoRoot, url)}:${frame.lineNumber + 1}`
      : url || '(native)';
    const key = `${frame.functionName || '(anonymous)'}\t${location}`;
    selfMicros.set(key, (selfMicros.get(key) ?? 0) + delta);
    total += delta;
  });
  const hotSpots = [...selfMicros.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, micros]) => {
      const [functionName, location] = key.split('\t') as [string, string];
      return { functionName, location, selfPercent: Math.round((micros / total) * 1000) / 10 };
    });
  return { sampledSeconds: Math.round(total / 1e4) / 100, hotSpots };
}
