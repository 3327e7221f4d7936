import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { computeSignature, parseAuthorization, verifySignature } from './sigv4.js';

function toBytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') {
    return data;
  }
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return new Uint8Array(data);
}

/** SHA-256 or HMAC-SHA256 in the Checksum shape the SDK signer expects. */
class Sha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }

  reset(): void {
    throw new Error('reset is not needed by these tests');
  }
}

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-value',
};

/** Signs a request with the SDK's own signer, so the check runs against the reference. */
async function signWithSdk(options: {
  service: string;
  query?: Record<string, string>;
  body: string;
}) {
  const signer = new SignatureV4({
    credentials,
    region: 'eu-west-1',
    service: options.service,
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4566,
      path: '/',
      query: options.query ?? {},
      headers: {
        host: '127.0.0.1:4566',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonSSM.StartSession',
      },
      body: options.body,
    },
    { signingDate: new Date('2026-01-02T03:04:05Z') },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    headers[name.toLowerCase()] = value;
  }
  const search = new URLSearchParams(options.query ?? {}).toString();
  return {
    method: 'POST',
    url: search ? `/?${search}` : '/',
    headers,
    body: Buffer.from(options.body),
  };
}

describe('sigv4', () => {
  it('parses the Authorization header', () => {
    const auth = parseAuthorization(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=' +
        'a'.repeat(64),
    );
    expect(auth).not.toBeNull();
    expect(auth!.accessKeyId).toBe('AKIDEXAMPLE');
    expect(auth!.date).toBe('20260102');
    expect(auth!.region).toBe('eu-west-1');
    expect(auth!.service).toBe('ssm');
    expect(auth!.signedHeaders).toEqual(['host', 'x-amz-date']);
  });

  it('rejects other schemes', () => {
    expect(parseAuthorization(undefined)).toBeNull();
    expect(parseAuthorization('Bearer abc')).toBeNull();
    expect(parseAuthorization('AWS AKIDEXAMPLE:signature')).toBeNull();
  });

  it('matches the SDK signer', async () => {
    const request = await signWithSdk({ service: 'ssm', body: '{"Target":"i-0123456789abcdef0"}' });
    const auth = parseAuthorization(request.headers.authorization)!;
    expect(computeSignature(request, auth, credentials.secretAccessKey)).toBe(auth.signature);
    expect(verifySignature(request, auth, credentials.secretAccessKey)).toBe(true);
  });

  it('matches the SDK signer with a query string', async () => {
    const request = await signWithSdk({
      service: 'sts',
      query: { b: 'two words', a: '1*' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    const auth = parseAuthorization(request.headers.authorization)!;
    expect(verifySignature(request, auth, credentials.secretAccessKey)).toBe(true);
  });

  it('detects a wrong secret or a changed body', async () => {
    const request = await signWithSdk({ service: 'ssm', body: '{}' });
    const auth = parseAuthorization(request.headers.authorization)!;
    expect(verifySignature(request, auth, 'another-secret')).toBe(false);
    expect(
      verifySignature(
        { ...request, body: Buffer.from('{"x":1}') },
        auth,
        credentials.secretAccessKey,
      ),
    ).toBe(false);
  });
});
