// The emulated DeleteParameter and DeleteParameters, called with the real SDK client.

import {
  DeleteParameterCommand,
  DeleteParametersCommand,
  ParameterNotFound,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsClientSet } from '../../daemon/aws/clients.js';
import { startAwsApiServer, type AwsApiServer } from '../aws/helpers/aws-api-server.js';
import { makeTestClients } from '../aws/helpers/fixtures.js';

let server: AwsApiServer;
let clients: AwsClientSet;

beforeAll(async () => {
  server = await startAwsApiServer({});
  clients = makeTestClients(server.endpoint, 'AKIAPARAMETERS0001');
});

afterAll(async () => {
  clients.destroy();
  await server.close();
});

beforeEach(() => {
  server.state.scenario.parameters = ['/a/one', '/a/two', '/a/three'].map((name) => ({
    name,
    value: '{}',
    type: 'String',
  }));
});

function parameterNames(): string[] {
  return server.state.scenario.parameters.map((parameter) => parameter.name);
}

describe('emulated parameter deletion', () => {
  it('deletes one parameter', async () => {
    await clients.ssm.send(new DeleteParameterCommand({ Name: '/a/two' }));
    expect(parameterNames()).toEqual(['/a/one', '/a/three']);
  });

  it('rejects a missing parameter', async () => {
    const error = await clients.ssm
      .send(new DeleteParameterCommand({ Name: '/a/none' }))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ParameterNotFound);
    expect(parameterNames()).toHaveLength(3);
  });

  it('deletes a batch and lists missing names', async () => {
    const reply = await clients.ssm.send(
      new DeleteParametersCommand({ Names: ['/a/one', '/a/none', '/a/three'] }),
    );
    expect(reply.DeletedParameters).toEqual(['/a/one', '/a/three']);
    expect(reply.InvalidParameters).toEqual(['/a/none']);
    expect(parameterNames()).toEqual(['/a/two']);
  });

  it('rejects more than 10 names', async () => {
    const names = Array.from({ length: 11 }, (_, index) => `/a/n${index}`);
    const error = await clients.ssm
      .send(new DeleteParametersCommand({ Names: names }))
      .catch((caught: unknown) => caught);
    expect((error as Error).name).toBe('ValidationException');
    expect(parameterNames()).toHaveLength(3);
  });
});
