import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without type declarations.
import { summarizeAudit } from '../../scripts/audit.mjs';

/** Builds a report in the shape that npm 10 prints for `npm audit --json` (auditReportVersion 2). */
function report(vulnerabilities: Record<string, unknown>, counts: Record<string, number>) {
  return JSON.stringify({
    auditReportVersion: 2,
    vulnerabilities,
    metadata: {
      vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0, total: 0, ...counts },
      dependencies: { prod: 140, dev: 0, optional: 1, peer: 0, peerOptional: 0, total: 140 },
    },
  });
}

const wsAdvisory = {
  name: 'ws',
  severity: 'high',
  isDirect: true,
  via: [
    {
      source: 1098392,
      name: 'ws',
      dependency: 'ws',
      title: 'ws affected by a DoS when handling a request with many HTTP headers',
      url: 'https://github.com/advisories/GHSA-3h5v-q93c-6h6q',
      severity: 'high',
      range: '>=8.0.0 <8.17.1',
    },
  ],
  effects: ['@fastify/websocket'],
  range: '8.0.0 - 8.17.0',
  nodes: ['node_modules/ws'],
  fixAvailable: true,
};

describe('npm audit summary', () => {
  it('lists high findings', () => {
    const summary = summarizeAudit(report({ ws: wsAdvisory }, { high: 1, total: 1 }));
    expect(summary.available).toBe(true);
    expect(summary.counts.high).toBe(1);
    expect(summary.findings).toEqual([
      {
        name: 'ws',
        severity: 'high',
        range: '8.0.0 - 8.17.0',
        via: 'ws affected by a DoS when handling a request with many HTTP headers',
      },
    ]);
  });

  it('names the package a finding comes through', () => {
    const effect = { ...wsAdvisory, name: '@fastify/websocket', via: ['ws'], range: '<=11.0.0' };
    const summary = summarizeAudit(report({ '@fastify/websocket': effect }, { high: 1 }));
    expect(summary.findings[0].via).toBe('ws');
  });

  it('ignores moderate and low findings', () => {
    const moderate = { ...wsAdvisory, severity: 'moderate' };
    const summary = summarizeAudit(report({ ws: moderate }, { moderate: 1, total: 1 }));
    expect(summary.available).toBe(true);
    expect(summary.findings).toEqual([]);
  });

  it('reports an unavailable service', () => {
    const refused = JSON.stringify({
      message:
        '405 Method Not Allowed - POST https://registry.example/-/npm/v1/security/advisories/bulk',
      statusCode: 405,
      error: { summary: '', detail: '' },
    });
    const summary = summarizeAudit(refused);
    expect(summary.available).toBe(false);
    expect(summary.reason).toContain('HTTP 405');
    expect(summary.reason).toContain('advisories/bulk');
  });

  it('reports output that is not JSON', () => {
    const summary = summarizeAudit('npm ERR! something else');
    expect(summary.available).toBe(false);
    expect(summary.reason).toContain('npm ERR! something else');
  });
});
