import { describe, expect, it } from 'vitest';
import {
  duplicateName,
  EMPTY_FORM,
  ENDPOINT_SERVICES,
  fieldErrorsByField,
  formToProfileBody,
  nextUnusedPort,
  profileToForm,
} from '../../ui/src/lib/profile-form.js';
import type { Profile } from '../../ui/src/lib/types.js';

const profile: Profile = {
  name: 'db',
  groups: ['prod', 'data'],
  region: 'eu-west-1',
  awsProfile: 'work',
  target: { tags: { Name: 'bastion', Env: 'prod' } },
  remoteHost: 'db.internal',
  remotePort: 5432,
  localPort: 15432,
  bindAddress: '127.0.0.1',
  allowNonLoopback: false,
  autoStart: true,
  mode: 'always-on',
  sessionPool: 2,
  endpoints: { ssm: 'http://127.0.0.1:4566', ec2: 'http://127.0.0.1:4567' },
  keepAlive: true,
};

describe('profile form conversion', () => {
  it('round-trips a complete profile', () => {
    expect(formToProfileBody(profileToForm(profile))).toEqual(profile);
  });

  it('shows tags as Key=Value pairs', () => {
    expect(profileToForm(profile).target).toBe('Name=bastion, Env=prod');
  });

  it('keeps an instance id as a string target', () => {
    const body = formToProfileBody({ ...EMPTY_FORM, target: ' i-0abc ' });
    expect(body.target).toBe('i-0abc');
  });

  it('sends non-numeric port text unchanged for the daemon to reject', () => {
    const body = formToProfileBody({ ...EMPTY_FORM, localPort: '70000', remotePort: 'abc' });
    expect(body.localPort).toBe(70000);
    expect(body.remotePort).toBe('abc');
  });

  it('omits empty optional fields', () => {
    const body = formToProfileBody({ ...EMPTY_FORM, name: 'x' });
    expect(body).not.toHaveProperty('awsProfile');
    expect(body).not.toHaveProperty('remoteHost');
    expect(body.endpoints).toEqual({});
    expect(body.groups).toEqual([]);
  });

  it('sets every service from the endpoint URL', () => {
    const body = formToProfileBody({ ...EMPTY_FORM, endpoint: ' http://127.0.0.1:4566 ' });
    expect(Object.keys(body.endpoints as object).sort()).toEqual([...ENDPOINT_SERVICES].sort());
    expect(new Set(Object.values(body.endpoints as object))).toEqual(
      new Set(['http://127.0.0.1:4566']),
    );
  });

  it('shows a shared endpoint in the URL field', () => {
    const url = 'http://127.0.0.1:4566';
    const endpoints = Object.fromEntries(ENDPOINT_SERVICES.map((service) => [service, url]));
    const form = profileToForm({ ...profile, endpoints });
    expect(form.endpoint).toBe(url);
    expect(form.serviceEndpoints).toEqual({});
  });

  it('keeps endpoints that differ per service', () => {
    const form = profileToForm(profile);
    expect(form.endpoint).toBe('');
    expect(form.serviceEndpoints).toEqual(profile.endpoints);
  });

  it('replaces per-service endpoints with the URL', () => {
    const form = { ...profileToForm(profile), endpoint: 'http://127.0.0.1:9000' };
    const endpoints = formToProfileBody(form).endpoints as Record<string, string>;
    expect(endpoints.ec2).toBe('http://127.0.0.1:9000');
    expect(endpoints.ssm).toBe('http://127.0.0.1:9000');
  });
});

describe('duplicateName', () => {
  it('picks the first free copy name', () => {
    expect(duplicateName('db', new Set(['db']))).toBe('db-copy');
    expect(duplicateName('db', new Set(['db', 'db-copy', 'db-copy-2']))).toBe('db-copy-3');
  });
});

describe('nextUnusedPort', () => {
  it('skips ports other profiles use', () => {
    expect(nextUnusedPort(15432, new Set([15432, 15433]))).toBe(15434);
  });

  it('keeps the port when no higher one is free', () => {
    expect(nextUnusedPort(65535, new Set([65535]))).toBe(65535);
  });
});

describe('fieldErrorsByField', () => {
  it('maps path spellings to form fields', () => {
    const { byField, other } = fieldErrorsByField([
      { path: 'localPort', message: 'out of range' },
      { path: '/remotePort', message: 'missing' },
      { path: 'body.region', message: 'unknown region' },
      { path: 'endpoints.ssm', message: 'not a URL' },
      { path: '/endpoints/ssm', message: 'not http' },
      { path: 'target.tags', message: 'empty' },
      { path: 'groups[1]', message: 'too long' },
    ]);
    expect(byField.localPort).toEqual(['out of range']);
    expect(byField.remotePort).toEqual(['missing']);
    expect(byField.region).toEqual(['unknown region']);
    expect(byField.endpoint).toEqual(['not a URL', 'not http']);
    expect(byField.target).toEqual(['empty']);
    expect(byField.groups).toEqual(['too long']);
    expect(other).toEqual([]);
  });

  it('returns unknown fields under other', () => {
    const { byField, other } = fieldErrorsByField([
      { path: 'tags', message: 'bad' },
      { path: '', message: 'profile is invalid' },
    ]);
    expect(byField).toEqual({});
    expect(other).toEqual(['tags: bad', 'profile is invalid']);
  });

  it('drops the profile name prefix', () => {
    const { byField, other } = fieldErrorsByField([
      { path: 'name', message: 'profile "bad name ü": name "bad name ü" is invalid' },
      { path: 'localPort', message: 'profile: localPort is missing' },
      { path: '', message: 'profile "x": the profile is invalid' },
    ]);
    expect(byField.name).toEqual(['name "bad name ü" is invalid']);
    expect(byField.localPort).toEqual(['localPort is missing']);
    expect(other).toEqual(['the profile is invalid']);
  });
});
