// Builders for Query-protocol XML responses in the shapes the AWS SDK v3 parsers read.

import { randomUUID } from 'node:crypto';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

/** Builds one element with escaped text, or an empty string for an undefined or null value. */
export function element(name: string, value: string | number | boolean | null | undefined): string {
  if (value === undefined || value === null) {
    return '';
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/**
 * Builds a response document of the awsQuery protocol (STS, RDS, ElastiCache):
 * `<XResponse><XResult>…</XResult><ResponseMetadata/></XResponse>`.
 */
export function queryResponse(action: string, namespace: string, result: string): string {
  return (
    `<${action}Response xmlns="${namespace}">` +
    `<${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>` +
    `</${action}Response>`
  );
}

/** Builds a response document of the ec2Query protocol, which has no Result wrapper. */
export function ec2Response(action: string, body: string): string {
  return (
    `<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
    `<requestId>${randomUUID()}</requestId>${body}</${action}Response>`
  );
}

/**
 * Collects the values of a Query list parameter: `InstanceId.1`, `InstanceId.2`, … for
 * `prefix` `InstanceId`.
 */
export function listParam(params: Record<string, string>, prefix: string): string[] {
  const values: string[] = [];
  for (let index = 1; params[`${prefix}.${index}`] !== undefined; index += 1) {
    values.push(params[`${prefix}.${index}`]!);
  }
  return values;
}

/** Collects EC2 filters (`Filter.N.Name`, `Filter.N.Value.M`) into a map from name to values. */
export function ec2Filters(params: Record<string, string>): Map<string, string[]> {
  const filters = new Map<string, string[]>();
  for (let index = 1; params[`Filter.${index}.Name`] !== undefined; index += 1) {
    filters.set(params[`Filter.${index}.Name`]!, listParam(params, `Filter.${index}.Value`));
  }
  return filters;
}
