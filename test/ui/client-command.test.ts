import { describe, expect, it } from 'vitest';
import {
  buildClientCommand,
  parseLocalAddress,
  suggestClientCommand,
} from '../../ui/src/lib/client-command.js';

function command(remotePort: number, localAddress = '127.0.0.1:15000') {
  return buildClientCommand({ localAddress, remotePort, remoteHost: 'svc.internal' });
}

describe('parseLocalAddress', () => {
  it('parses IPv4 and bracketed IPv6 addresses', () => {
    expect(parseLocalAddress('127.0.0.1:15432')).toEqual({ host: '127.0.0.1', port: 15432 });
    expect(parseLocalAddress('[::1]:6379')).toEqual({ host: '::1', port: 6379 });
  });

  it('turns wildcard addresses into loopback', () => {
    expect(parseLocalAddress('0.0.0.0:80')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseLocalAddress('[::]:80')).toEqual({ host: '::1', port: 80 });
  });

  it('rejects addresses without a valid port', () => {
    expect(parseLocalAddress('127.0.0.1')).toBeNull();
    expect(parseLocalAddress('127.0.0.1:0')).toBeNull();
    expect(parseLocalAddress('127.0.0.1:70000')).toBeNull();
    expect(parseLocalAddress('')).toBeNull();
  });
});

describe('buildClientCommand', () => {
  it('guesses clients from well-known remote ports', () => {
    expect(command(5432)).toBe('psql "host=127.0.0.1 port=15000 user=postgres dbname=postgres"');
    expect(command(3306)).toBe('mysql -h 127.0.0.1 -P 15000 -u root -p');
    expect(command(6379)).toBe('redis-cli -h 127.0.0.1 -p 15000');
    expect(command(27017)).toBe('mongosh "mongodb://127.0.0.1:15000/"');
    expect(command(1433)).toBe('sqlcmd -S 127.0.0.1,15000 -U sa');
    expect(command(22)).toBe('ssh -p 15000 ec2-user@127.0.0.1');
    expect(command(8080)).toBe('curl http://127.0.0.1:15000/');
  });

  it('sends the remote name for HTTPS so the certificate matches', () => {
    expect(command(443)).toBe(
      'curl --connect-to svc.internal:443:127.0.0.1:15000 https://svc.internal/',
    );
    expect(command(8443)).toBe(
      'curl --connect-to svc.internal:8443:127.0.0.1:15000 https://svc.internal:8443/',
    );
  });

  it('uses nc for unknown ports', () => {
    expect(command(4711, '127.0.0.1:4711')).toBe('nc -v 127.0.0.1 4711');
    expect(command(16379, '127.0.0.1:16379')).toBe('nc -v 127.0.0.1 16379');
  });

  it('brackets IPv6 hosts in URLs', () => {
    expect(command(80, '[::1]:8080')).toBe('curl http://[::1]:8080/');
  });

  it('returns null without a usable local address', () => {
    expect(command(5432, 'not-an-address')).toBeNull();
  });
});

describe('suggestClientCommand', () => {
  it('names the well-known port it guessed from', () => {
    const suggestion = suggestClientCommand({
      localAddress: '127.0.0.1:15432',
      remotePort: 5432,
      remoteHost: null,
    });
    expect(suggestion?.basis).toBe('Guessed from remote port 5432, the usual PostgreSQL port.');
  });

  it('says when the port is not well known', () => {
    const suggestion = suggestClientCommand({
      localAddress: '127.0.0.1:44024',
      remotePort: 44024,
      remoteHost: '127.0.0.1',
    });
    expect(suggestion?.command).toBe('nc -v 127.0.0.1 44024');
    expect(suggestion?.basis).toContain('Remote port 44024 is not a well-known port');
  });
});
