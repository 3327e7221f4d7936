// `npm run bench`: measures bastionless tunnels over the emulator against direct TCP,
// `ssh -L` and the emulator alone, then writes docs/benchmarks.{json,md,svg}.
// `npm run bench:smoke` (--smoke) runs the same phases with small sizes in under a minute
// and writes to a temporary directory unless --out is given.
//
// Options: --smoke, --out DIR, --bulk-mb N (pacing-off bulk size per connection, default
// 64), --paced-bulk-mb N (pacing-on bulk size per connection, default 2), --tunnel-host
// daemon|sessions (the real daemon, default, or bare sessions in bench/tunnel-host.ts),
// --render FILE (rewrite the page and chart next to FILE from its JSON, measuring nothing).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './child.js';
import { describeMachine } from './machine.js';
import {
  measureBastionless,
  measureEmulatorCeiling,
  measureIdle,
  measureSessionPools,
  profileBulk,
  startEmulatorProcess,
  tunnelStarter,
  type TunnelHostKind,
  type CeilingSizes,
} from './phases.js';
import { renderSvg } from './chart.js';
import { renderMarkdown } from './report.js';
import type { BenchResults } from './results.js';
import { startSshTunnel } from './ssh-baseline.js';
import { runSuite, type SuiteSizes } from './suite.js';
import { startTargetServer } from './target-server.js';
import { evaluateTargets } from './targets.js';

const MB = 1_000_000;

interface Plan {
  pacingOff: SuiteSizes;
  pacingOn: SuiteSizes;
  ceilingOff: CeilingSizes;
  ceilingOn: CeilingSizes;
  poolBytesPerConnection: number;
  idleTunnels: number;
  idleSeconds: number;
  profile: boolean;
  /** Run the tunnel host compiled by tsc, so its memory leaves out the tsx loader. */
  compiled: boolean;
  tunnelHost: TunnelHostKind;
}

function fullPlan(bulkMb: number, pacedBulkMb: number, tunnelHost: TunnelHostKind): Plan {
  // A tunnel that moves 1-2 MB/s needs minutes for 200 connections of 1 MB each way. The
  // time limit keeps the whole run near 10 minutes, and connections still open at the
  // limit count as failed. Bulk sizes are cut by their own budget.
  const common = { timeoutMs: 120_000, echoRounds: 5000, concurrentConnections: 200 };
  return {
    pacingOff: {
      ...common,
      bulkBytes: bulkMb * MB,
      bulkBudgetSeconds: 8,
      probeBytes: 2 * MB,
      repeats: 3,
      connectCount: 1000,
      concurrentBytes: 1 * MB,
    },
    // One paced session carries about 1 MB/s, so 200 connections of 1 MB each way would
    // take over three minutes; 32 kB each way keeps the phase to a few seconds.
    pacingOn: {
      ...common,
      bulkBytes: pacedBulkMb * MB,
      bulkBudgetSeconds: 20,
      probeBytes: 256_000,
      repeats: 1,
      connectCount: 300,
      concurrentBytes: 32_000,
    },
    ceilingOff: {
      downloadBytes: 32 * MB,
      download8BytesPerConnection: 4 * MB,
      uploadBytes: 64 * MB,
      timeoutMs: 120_000,
    },
    ceilingOn: {
      downloadBytes: 2 * MB,
      download8BytesPerConnection: 256_000,
      uploadBytes: 16 * MB,
      timeoutMs: 120_000,
    },
    poolBytesPerConnection: 1 * MB,
    idleTunnels: 20,
    idleSeconds: 10,
    profile: true,
    compiled: true,
    tunnelHost,
  };
}

function smokePlan(tunnelHost: TunnelHostKind): Plan {
  const suite: SuiteSizes = {
    bulkBytes: 512_000,
    bulkBudgetSeconds: 2,
    probeBytes: 64_000,
    repeats: 1,
    echoRounds: 200,
    connectCount: 30,
    concurrentConnections: 200,
    concurrentBytes: 4_000,
    timeoutMs: 30_000,
  };
  const ceiling: CeilingSizes = {
    downloadBytes: 256_000,
    download8BytesPerConnection: 32_000,
    uploadBytes: 512_000,
    timeoutMs: 30_000,
  };
  return {
    pacingOff: suite,
    pacingOn: { ...suite, bulkBytes: 128_000, probeBytes: 32_000, concurrentBytes: 1_000 },
    ceilingOff: ceiling,
    ceilingOn: { ...ceiling, downloadBytes: 64_000 },
    poolBytesPerConnection: 32_000,
    idleTunnels: 5,
    idleSeconds: 1,
    profile: false,
    compiled: false,
    tunnelHost,
  };
}

function gitHead(): string {
  return spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT })
    .stdout.toString()
    .trim();
}

function describeTunnelHost(plan: Plan, commit: string): string {
  const origin = plan.compiled ? `commit ${commit}, compiled by tsc` : 'working tree, run by tsx';
  if (plan.tunnelHost === 'daemon') {
    return (
      `the daemon (\`bastionless daemon\`, ${origin}) with always-on profiles that ` +
      'point at the emulator, in its own process'
    );
  }
  return (
    `bench/tunnel-host.ts (${origin}): startPortForwardSession() sessions behind one ` +
    '127.0.0.1 listener per tunnel, without the tunnel manager, in its own process'
  );
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function runBench(plan: Plan, smoke: boolean): Promise<BenchResults> {
  const started = Date.now();
  if (plan.compiled) {
    log('compiling the tunnel host with tsc');
  }
  // Read before the build, which archives HEAD: a later commit must not relabel the run.
  const commit = gitHead();
  const startTunnels = tunnelStarter(plan.tunnelHost, plan.compiled);
  const target = await startTargetServer();
  const ssh = await startSshTunnel(target.port);
  try {
    log('direct TCP');
    const direct = await runSuite(target.port, plan.pacingOff);
    log(`ssh -L (${ssh.version})`);
    const sshSuite = await runSuite(ssh.port, plan.pacingOff);
    await ssh.close();

    log('emulator, pacing off');
    const unpaced = await startEmulatorProcess(false);
    const offContext = {
      emulator: unpaced,
      targetPort: target.port,
      startTunnels,
      compiled: plan.compiled,
    };
    let off, ceilingOff, idle, profile;
    try {
      ceilingOff = await measureEmulatorCeiling(offContext, false, plan.ceilingOff);
      log('bastionless, pacing off');
      off = await measureBastionless(offContext, plan.pacingOff);
      log(`idle with ${plan.idleTunnels} tunnels`);
      idle = await measureIdle(offContext, plan.idleTunnels, plan.idleSeconds);
      if (plan.profile) {
        log('CPU profile, pacing off');
        profile = await profileBulk(offContext, {
          ...plan.pacingOff,
          bulkBudgetSeconds: 5,
        });
      }
    } finally {
      await unpaced.child.stop();
    }

    log('emulator, pacing on');
    const paced = await startEmulatorProcess(true);
    const onContext = {
      emulator: paced,
      targetPort: target.port,
      startTunnels,
      compiled: plan.compiled,
    };
    let on, ceilingOn, pools;
    try {
      ceilingOn = await measureEmulatorCeiling(onContext, true, plan.ceilingOn);
      log('bastionless, pacing on');
      on = await measureBastionless(onContext, plan.pacingOn);
      log('session pools 1, 2 and 4, pacing on');
      pools = await measureSessionPools(
        onContext,
        plan.poolBytesPerConnection,
        plan.pacingOn.timeoutMs,
      );
    } finally {
      await paced.child.stop();
    }

    const partial: Omit<BenchResults, 'targets'> = {
      schemaVersion: 1,
      date: new Date(started).toISOString(),
      smoke,
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: describeMachine(),
      openssh: { version: ssh.version, cipher: ssh.ciphers },
      tunnelHost: describeTunnelHost(plan, commit),
      sizes: {
        pacingOff: plan.pacingOff,
        pacingOn: plan.pacingOn,
        poolBytesPerConnection: plan.poolBytesPerConnection,
      },
      paths: {
        direct,
        ssh: sshSuite,
        bastionlessPacingOff: off.suite,
        bastionlessPacingOn: on.suite,
      },
      emulator: { pacingOff: ceilingOff, pacingOn: ceilingOn },
      sessionPool: pools,
      resources: { idle, load: off.load },
      profile: profile ?? null,
    };
    return { ...partial, targets: evaluateTargets(partial) };
  } finally {
    await ssh.close();
    await target.close();
  }
}

function writeOutputs(outDir: string, results: BenchResults, withJson: boolean): void {
  mkdirSync(outDir, { recursive: true });
  if (withJson) {
    writeFileSync(join(outDir, 'benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
  }
  writeFileSync(join(outDir, 'benchmarks.svg'), renderSvg(results));
  writeFileSync(join(outDir, 'benchmarks.md'), renderMarkdown(results));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'bulk-mb': { type: 'string', default: '64' },
      'paced-bulk-mb': { type: 'string', default: '2' },
      'tunnel-host': { type: 'string', default: 'daemon' },
      render: { type: 'string' },
    },
  });
  if (values.render !== undefined) {
    // Rewrites the page and the chart from a JSON file, e.g. after bench/analysis.md changed.
    const results = JSON.parse(readFileSync(values.render, 'utf8')) as BenchResults;
    writeOutputs(dirname(values.render), results, false);
    return;
  }
  const bulkMb = Number(values['bulk-mb']);
  const pacedBulkMb = Number(values['paced-bulk-mb']);
  if (!(bulkMb > 0) || !(pacedBulkMb > 0)) {
    throw new Error('invalid --bulk-mb or --paced-bulk-mb: expected a positive number of MB');
  }
  const tunnelHost = values['tunnel-host'];
  if (tunnelHost !== 'daemon' && tunnelHost !== 'sessions') {
    throw new Error(
      `invalid --tunnel-host ${JSON.stringify(tunnelHost)}: expected daemon or sessions`,
    );
  }
  const smoke = values.smoke;
  const outDir =
    values.out ??
    (smoke ? mkdtempSync(join(tmpdir(), 'bastionless-bench-')) : join(REPO_ROOT, 'docs'));
  const plan = smoke ? smokePlan(tunnelHost) : fullPlan(bulkMb, pacedBulkMb, tunnelHost);
  const results = await runBench(plan, smoke);
  writeOutputs(outDir, results, true);
  log(`wrote benchmarks.json, .md and .svg to ${outDir} in ${results.durationSeconds} s`);
  process.stdout.write(`${JSON.stringify({ outDir })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
