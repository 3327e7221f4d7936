// Extension point for AWS operations beyond the session operations the emulator serves
// itself (SSM StartSession, ResumeSession, TerminateSession, DescribeInstanceInformation,
// GetConnectionStatus). Throwing AwsApiError from a handler returns that AWS error.

import type { EmulatorState } from '../state.js';
import { ec2Handlers } from './ec2.js';
import { elasticacheHandlers } from './elasticache.js';
import { parameterHandlers } from './parameters.js';
import { rdsHandlers } from './rds.js';
import { stsHandlers } from './sts.js';

export { AwsApiError } from '../errors.js';

export interface HandlerContext {
  state: EmulatorState;
  accessKeyId: string;
  region: string;
}

/** Handler of a JSON-protocol operation; `input` is the parsed request body. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each operation has its own shape
export type JsonHandler = (input: any, ctx: HandlerContext) => unknown | Promise<unknown>;

/** Handler of a query-protocol action; returns the XML response document. */
export type QueryHandler = (
  params: Record<string, string>,
  ctx: HandlerContext,
) => string | Promise<string>;

/** Keyed by X-Amz-Target, e.g. `AmazonSSM.GetParametersByPath`. */
export const jsonHandlers: Record<string, JsonHandler> = { ...parameterHandlers };

/** Keyed by SigV4 service name (`sts`, `ec2`, `rds`, `elasticache`), then by `Action`. */
export const queryHandlers: Record<string, Record<string, QueryHandler>> = {
  sts: stsHandlers,
  ec2: ec2Handlers,
  rds: rdsHandlers,
  elasticache: elasticacheHandlers,
};
