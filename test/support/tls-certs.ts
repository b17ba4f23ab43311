/**
 * Throwaway TLS material for tests, made with the `openssl` command in a
 * directory of the caller's: a CA, a server certificate it signed for
 * 127.0.0.1 / localhost, and a second CA that signed nothing here (the
 * "wrong CA" a client may be given).
 *
 *   const certs = makeTestCertificates(mkdtempSync(join(tmpdir(), 'tls-')));
 *   await startRedisServer({ tls: certs, password: 'pw' });
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  /** PEM file of the CA that signed the server certificate. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM file of an unrelated CA. */
  readonly wrongCaFile: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
  ]);
}

/** Write the CA, server and wrong-CA files into `dir` (which must exist). */
export function makeTestCertificates(dir: string): TestCertificates {
  makeCa(dir, 'ferry-test-ca');
  makeCa(dir, 'ferry-wrong-ca');
  openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName = IP:127.0.0.1, DNS:localhost\n');
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ferry-test-ca.crt',
    '-CAkey',
    'ferry-test-ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'server.ext',
    '-out',
    'server.crt',
  ]);
  return {
    dir,
    caFile: join(dir, 'ferry-test-ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    wrongCaFile: join(dir, 'ferry-wrong-ca.crt'),
  };
}
