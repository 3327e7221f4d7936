import {
  DescribeInstanceInformationCommand,
  DoesNotExistException,
  GetConnectionStatusCommand,
  GetParameterCommand,
  InvalidDocument,
  ResumeSessionCommand,
  SSMClient,
  StartSessionCommand,
  TargetNotConnected,
  TerminateSessionCommand,
} from '@aws-sdk/client-ssm';
import { DecodeAuthorizationMessageCommand, STSClient } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonHandlers, queryHandlers } from './services/index.js';
import { AwsApiError, startEmulator, type Emulator, type EmulatorOptions } from './index.js';

const ONLINE = 'i-0123456789abcdef0';
const OFFLINE = 'i-00000000000000bad';

function client(
  emulator: Emulator,
  accessKeyId = 'AKIATEST',
  secretAccessKey = 'secret',
  sessionToken?: string,
): SSMClient {
  return new SSMClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: { accessKeyId, secretAccessKey, sessionToken },
    maxAttempts: 1,
  });
}

const emulators: Emulator[] = [];

async function start(options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator({ pacing: false, ...options });
  emulators.push(emulator);
  return emulator;
}

afterEach(async () => {
  for (const emulator of emulators.splice(0)) {
    await emulator.close();
  }
});

function portSession(target = ONLINE) {
  return new StartSessionCommand({
    Target: target,
    DocumentName: 'AWS-StartPortForwardingSessionToRemoteHost',
    Parameters: { host: ['127.0.0.1'], portNumber: ['5432'], localPortNumber: ['0'] },
  });
}

describe('emulator SSM API', () => {
  it('StartSession returns a stream URL and token', async () => {
    const emulator = await start();
    const result = await client(emulator).send(portSession());
    expect(result.SessionId).toMatch(/^AKIATEST-[0-9a-f]{18}$/);
    expect(result.StreamUrl).toBe(
      `ws://127.0.0.1:${new URL(emulator.url).port}/v1/data-channel/${result.SessionId}?role=publish_subscribe`,
    );
    expect(result.TokenValue!.length).toBeGreaterThan(32);
    const record = emulator.sessions[0]!;
    expect(record.host).toBe('127.0.0.1');
    expect(record.port).toBe(5432);
    expect(record.state).toBe('pending');
    expect(emulator.calls.map((c) => c.operation)).toEqual(['AmazonSSM.StartSession']);
    expect(emulator.calls[0]!.accessKeyId).toBe('AKIATEST');
    expect(emulator.calls[0]!.region).toBe('us-east-1');
  });

  it('port session to the target dials localhost', async () => {
    const emulator = await start();
    await client(emulator).send(
      new StartSessionCommand({
        Target: ONLINE,
        DocumentName: 'AWS-StartPortForwardingSession',
        Parameters: { portNumber: ['8080'] },
      }),
    );
    expect(emulator.sessions[0]!.host).toBe('localhost');
    expect(emulator.sessions[0]!.port).toBe(8080);
  });

  it('ResumeSession issues a fresh token', async () => {
    const emulator = await start();
    const ssm = client(emulator);
    const started = await ssm.send(portSession());
    const resumed = await ssm.send(new ResumeSessionCommand({ SessionId: started.SessionId }));
    expect(resumed.SessionId).toBe(started.SessionId);
    expect(resumed.StreamUrl).toBe(started.StreamUrl);
    expect(resumed.TokenValue).not.toBe(started.TokenValue);
    expect(emulator.session(started.SessionId!)!.token).toBe(resumed.TokenValue);
  });

  it('ResumeSession of unknown session fails', async () => {
    const emulator = await start();
    await expect(
      client(emulator).send(new ResumeSessionCommand({ SessionId: 'nobody-0000' })),
    ).rejects.toBeInstanceOf(DoesNotExistException);
  });

  it('TerminateSession is recorded', async () => {
    const emulator = await start();
    const ssm = client(emulator);
    const started = await ssm.send(portSession());
    const ended = await ssm.send(new TerminateSessionCommand({ SessionId: started.SessionId }));
    expect(ended.SessionId).toBe(started.SessionId);
    expect(emulator.sessions[0]!.state).toBe('terminated');
    expect(emulator.sessions[0]!.terminatedBy).toBe('api:AKIATEST');
    const terminated = emulator.calls.filter((c) => c.operation === 'AmazonSSM.TerminateSession');
    expect(terminated).toHaveLength(1);
  });

  it('offline target raises TargetNotConnected', async () => {
    const emulator = await start();
    const error = await client(emulator)
      .send(portSession(OFFLINE))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetNotConnected);
    expect(emulator.calls[0]!.error).toBe('TargetNotConnected');
  });

  it('shell document raises InvalidDocument', async () => {
    const emulator = await start();
    const error = await client(emulator)
      .send(new StartSessionCommand({ Target: ONLINE }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidDocument);
  });

  it('denied access key raises AccessDeniedException', async () => {
    const emulator = await start({
      scenario: { instances: [{ instanceId: ONLINE } as never], denyStartSession: ['AKIADENIED'] },
    });
    const error = (await client(emulator, 'AKIADENIED')
      .send(portSession())
      .catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('AccessDeniedException');
  });

  it('unknown target in a scenario raises InvalidTarget', async () => {
    const emulator = await start({ scenario: { instances: [] } });
    const error = (await client(emulator)
      .send(portSession())
      .catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('InvalidTarget');
  });

  it('unsigned request is rejected', async () => {
    const emulator = await start();
    const response = await fetch(emulator.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonSSM.StartSession',
      },
      body: JSON.stringify({ Target: ONLINE }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { __type: string };
    expect(body.__type).toBe('UnrecognizedClientException');
    expect(emulator.sessions).toHaveLength(0);
  });

  it('signature checked with scenario secret', async () => {
    const emulator = await start({
      scenario: {
        credentials: [{ accessKeyId: 'AKIAKNOWN', secretAccessKey: 'right-secret' }],
        instances: [{ instanceId: ONLINE } as never],
      },
    });
    const good = await client(emulator, 'AKIAKNOWN', 'right-secret').send(portSession());
    expect(good.SessionId).toBeDefined();
    const wrongSecret = (await client(emulator, 'AKIAKNOWN', 'wrong-secret')
      .send(portSession())
      .catch((e: unknown) => e)) as Error;
    expect(wrongSecret.name).toBe('InvalidSignatureException');
    const unknownKey = (await client(emulator, 'AKIAOTHER', 'right-secret')
      .send(portSession())
      .catch((e: unknown) => e)) as Error;
    expect(unknownKey.name).toBe('UnrecognizedClientException');
  });

  it('session token required when configured', async () => {
    const emulator = await start({
      scenario: {
        credentials: [{ accessKeyId: 'ASIATEMP', secretAccessKey: 's', sessionToken: 'tok' }],
        instances: [{ instanceId: ONLINE } as never],
      },
    });
    await expect(
      client(emulator, 'ASIATEMP', 's', 'tok').send(portSession()),
    ).resolves.toBeDefined();
    const missing = (await client(emulator, 'ASIATEMP', 's')
      .send(portSession())
      .catch((e: unknown) => e)) as Error;
    expect(missing.name).toBe('UnrecognizedClientException');
  });

  it('expired key raises ExpiredTokenException', async () => {
    const emulator = await start({
      scenario: {
        credentials: [{ accessKeyId: 'AKIAOLD', expired: true }],
        instances: [{ instanceId: ONLINE } as never],
      },
    });
    const error = (await client(emulator, 'AKIAOLD')
      .send(portSession())
      .catch((e: unknown) => e)) as Error & { $metadata: { httpStatusCode: number } };
    expect(error.name).toBe('ExpiredTokenException');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('DescribeInstanceInformation filters', async () => {
    const emulator = await start();
    const ssm = client(emulator);
    const all = await ssm.send(new DescribeInstanceInformationCommand({}));
    expect(all.InstanceInformationList!.map((i) => i.InstanceId)).toEqual([
      'i-0123456789abcdef0',
      'i-0fedcba9876543210',
      'i-00000000000000bad',
    ]);

    const online = await ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'PingStatus', Values: ['Online'] }],
      }),
    );
    expect(online.InstanceInformationList).toHaveLength(2);

    const tagged = await ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'tag:Environment', Values: ['prod'] }],
      }),
    );
    expect(tagged.InstanceInformationList!.map((i) => i.InstanceId)).toEqual([
      'i-0fedcba9876543210',
    ]);

    const byId = await ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'InstanceIds', Values: ['i-0aaaaaaaaaaaaaaaa'] }],
      }),
    );
    expect(byId.InstanceInformationList!.map((i) => i.PingStatus)).toEqual(['Online']);
    expect(byId.InstanceInformationList![0]!.AgentVersion).toBe('3.3.987.0');

    const paged = await ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 5 }));
    expect(paged.InstanceInformationList).toHaveLength(3);
    expect(paged.NextToken).toBeUndefined();
  });

  it('GetConnectionStatus reports ping status', async () => {
    const emulator = await start();
    const ssm = client(emulator);
    const online = await ssm.send(new GetConnectionStatusCommand({ Target: ONLINE }));
    expect(online.Status).toBe('connected');
    const offline = await ssm.send(new GetConnectionStatusCommand({ Target: OFFLINE }));
    expect(offline.Status).toBe('notconnected');
  });

  it('service handlers extend the API', async () => {
    const emulator = await start();
    const previous = jsonHandlers['AmazonSSM.GetParameter'];
    jsonHandlers['AmazonSSM.GetParameter'] = (input: { Name: string }) => {
      if (input.Name === 'missing') {
        throw new AwsApiError('ParameterNotFound', 'Parameter missing not found.');
      }
      return { Parameter: { Name: input.Name, Value: 'v', Type: 'String' } };
    };
    try {
      const found = await client(emulator).send(new GetParameterCommand({ Name: 'p' }));
      expect(found.Parameter!.Value).toBe('v');
      const missing = (await client(emulator)
        .send(new GetParameterCommand({ Name: 'missing' }))
        .catch((e: unknown) => e)) as Error;
      expect(missing.name).toBe('ParameterNotFound');
    } finally {
      if (previous) {
        jsonHandlers['AmazonSSM.GetParameter'] = previous;
      } else {
        delete jsonHandlers['AmazonSSM.GetParameter'];
      }
    }
  });

  it('query protocol routes by service and Action', async () => {
    const emulator = await start();
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: emulator.url,
      credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    const previous = queryHandlers.sts?.DecodeAuthorizationMessage;
    queryHandlers.sts = { ...queryHandlers.sts };
    queryHandlers.sts.DecodeAuthorizationMessage = (params, ctx) =>
      `<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><DecodeAuthorizationMessageResult><DecodedMessage>${params.EncodedMessage}:${ctx.accessKeyId}</DecodedMessage></DecodeAuthorizationMessageResult></DecodeAuthorizationMessageResponse>`;
    try {
      const decoded = await sts.send(
        new DecodeAuthorizationMessageCommand({ EncodedMessage: 'abc' }),
      );
      expect(decoded.DecodedMessage).toBe('abc:AKIATEST');
      expect(emulator.calls.at(-1)!.operation).toBe('sts:DecodeAuthorizationMessage');
    } finally {
      if (previous) {
        queryHandlers.sts.DecodeAuthorizationMessage = previous;
      } else {
        delete queryHandlers.sts.DecodeAuthorizationMessage;
      }
    }
    const unknown = (await sts
      .send(new DecodeAuthorizationMessageCommand({ EncodedMessage: 'abc' }))
      .catch((e: unknown) => e)) as Error & { $metadata: { httpStatusCode: number } };
    expect(unknown.name).toBe('InvalidAction');
    expect(unknown.$metadata.httpStatusCode).toBe(400);
  });

  it('control routes list calls and sessions', async () => {
    const emulator = await start();
    const started = await client(emulator).send(portSession());
    const calls = (await (await fetch(`${emulator.url}/_emulator/calls`)).json()) as unknown[];
    expect(calls).toHaveLength(1);
    const sessions = (await (await fetch(`${emulator.url}/_emulator/sessions`)).json()) as {
      sessionId: string;
    }[];
    expect(sessions.map((s) => s.sessionId)).toEqual([started.SessionId]);
    const bad = await fetch(`${emulator.url}/_emulator/sessions/${started.SessionId}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dropProbability: 2 }),
    });
    expect(bad.status).toBe(400);
    const good = await fetch(`${emulator.url}/_emulator/sessions/${started.SessionId}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dropProbability: 0.5, seed: 7 }),
    });
    expect(good.status).toBe(200);
    expect(emulator.session(started.SessionId!)!.activeFaults.dropProbability).toBe(0.5);
  });
});
