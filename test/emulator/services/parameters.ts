// SSM GetParametersByPath, PutParameter, DeleteParameter and DeleteParameters (JSON 1.1
// protocol).

import { AwsApiError } from '../errors.js';
import type { ScenarioParameter } from '../scenario.js';
import type { HandlerContext, JsonHandler } from './index.js';

/** A scenario parameter plus the bookkeeping PutParameter adds. */
type StoredParameter = ScenarioParameter & { version?: number; lastModifiedDate?: number };

// The service caps MaxResults of GetParametersByPath at 10.
const MAX_RESULTS = 10;
const PARAMETER_TYPES = new Set(['String', 'StringList', 'SecureString']);

function parameterArn(ctx: HandlerContext, name: string): string {
  const path = name.startsWith('/') ? name.slice(1) : name;
  return `arn:aws:ssm:${ctx.region}:123456789012:parameter/${path}`;
}

function toOutput(parameter: StoredParameter, ctx: HandlerContext) {
  return {
    Name: parameter.name,
    Type: parameter.type,
    Value: parameter.value,
    Version: parameter.version ?? 1,
    // The JSON protocol sends timestamps as epoch seconds.
    LastModifiedDate: (parameter.lastModifiedDate ?? Date.now()) / 1000,
    ARN: parameterArn(ctx, parameter.name),
    DataType: 'text',
  };
}

interface GetParametersByPathInput {
  Path?: string;
  Recursive?: boolean;
  MaxResults?: number;
  NextToken?: string;
}

/** Pages through the parameters under `Path`; NextToken is the index of the next one. */
const getParametersByPath: JsonHandler = (input: GetParametersByPathInput, ctx) => {
  const path = input.Path ?? '';
  if (!path.startsWith('/')) {
    throw new AwsApiError(
      'ValidationException',
      `invalid Path ${JSON.stringify(path)}: expected a leading /`,
    );
  }
  const prefix = path.endsWith('/') ? path : `${path}/`;
  const matching = (ctx.state.scenario.parameters as StoredParameter[])
    .filter((parameter) => parameter.name.startsWith(prefix))
    .filter(
      (parameter) => input.Recursive === true || !parameter.name.slice(prefix.length).includes('/'),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
  const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
  if (!Number.isInteger(start) || start < 0) {
    throw new AwsApiError('InvalidNextToken', 'The specified token is not valid.');
  }
  const pageSize = Math.min(input.MaxResults ?? MAX_RESULTS, MAX_RESULTS);
  const page = matching.slice(start, start + pageSize);
  const next = start + page.length;
  return {
    Parameters: page.map((parameter) => toOutput(parameter, ctx)),
    ...(next < matching.length ? { NextToken: String(next) } : {}),
  };
};

interface PutParameterInput {
  Name?: string;
  Value?: string;
  Type?: string;
  Overwrite?: boolean;
}

const putParameter: JsonHandler = (input: PutParameterInput, ctx) => {
  if (typeof input.Name !== 'string' || input.Name === '') {
    throw new AwsApiError('ValidationException', 'Name is missing');
  }
  if (typeof input.Value !== 'string') {
    throw new AwsApiError('ValidationException', `Value of parameter ${input.Name} is missing`);
  }
  const parameters = ctx.state.scenario.parameters as StoredParameter[];
  const existing = parameters.find((parameter) => parameter.name === input.Name);
  if (existing && input.Overwrite !== true) {
    throw new AwsApiError('ParameterAlreadyExists', `The parameter ${input.Name} already exists.`);
  }
  const type = input.Type ?? existing?.type ?? 'String';
  if (!PARAMETER_TYPES.has(type)) {
    throw new AwsApiError('ValidationException', `invalid Type ${JSON.stringify(type)}`);
  }
  if (existing) {
    existing.value = input.Value;
    existing.type = type;
    existing.version = (existing.version ?? 1) + 1;
    existing.lastModifiedDate = Date.now();
    return { Version: existing.version, Tier: 'Standard' };
  }
  parameters.push({
    name: input.Name,
    value: input.Value,
    type,
    version: 1,
    lastModifiedDate: Date.now(),
  });
  return { Version: 1, Tier: 'Standard' };
};

// The service accepts 1 to 10 names per DeleteParameters request.
const MAX_DELETE_NAMES = 10;

/** Removes the parameter called `name`, or returns false when there is none. */
function removeParameter(ctx: HandlerContext, name: string): boolean {
  const parameters = ctx.state.scenario.parameters as StoredParameter[];
  const index = parameters.findIndex((parameter) => parameter.name === name);
  if (index < 0) {
    return false;
  }
  parameters.splice(index, 1);
  return true;
}

const deleteParameter: JsonHandler = (input: { Name?: string }, ctx) => {
  if (typeof input.Name !== 'string' || input.Name === '') {
    throw new AwsApiError('ValidationException', 'Name is missing');
  }
  if (!removeParameter(ctx, input.Name)) {
    throw new AwsApiError('ParameterNotFound', `Parameter ${input.Name} not found.`);
  }
  return {};
};

/** Deletes up to 10 parameters. Names that do not exist come back in InvalidParameters. */
const deleteParameters: JsonHandler = (input: { Names?: unknown }, ctx) => {
  const names = input.Names;
  if (
    !Array.isArray(names) ||
    names.length === 0 ||
    names.length > MAX_DELETE_NAMES ||
    !names.every((name) => typeof name === 'string')
  ) {
    throw new AwsApiError(
      'ValidationException',
      `Names must be a list of 1 to ${MAX_DELETE_NAMES} parameter names`,
    );
  }
  const deleted: string[] = [];
  const invalid: string[] = [];
  for (const name of names as string[]) {
    (removeParameter(ctx, name) ? deleted : invalid).push(name);
  }
  return { DeletedParameters: deleted, InvalidParameters: invalid };
};

export const parameterHandlers: Record<string, JsonHandler> = {
  'AmazonSSM.GetParametersByPath': getParametersByPath,
  'AmazonSSM.PutParameter': putParameter,
  'AmazonSSM.DeleteParameter': deleteParameter,
  'AmazonSSM.DeleteParameters': deleteParameters,
};
