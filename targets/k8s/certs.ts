// The k8s target's per-run PKI: a CA, a serving certificate per apiserver (its node address as a SAN), a client
// certificate for Faultline's clients (group system:masters) and the service-account signing key, made with openssl.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** Each openssl call is small; a bound keeps a wedged one from stalling setup. */
const OPENSSL_TIMEOUT_MS = 20_000;
/** The certificates outlive any run by far and are thrown away with it. */
const VALID_DAYS = '7';

export interface ServingCertificate {
  certificate: string;
  key: string;
}

export interface ClusterPki {
  caCertificate: string;
  /** Per node name. */
  serving: Record<string, ServingCertificate>;
  clientCertificate: string;
  clientKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: OPENSSL_TIMEOUT_MS });
}

/** P-256 keys: quick to make, and kube-apiserver takes them for TLS and for service-account tokens (ES256). */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A key and a certificate signed by the CA in `dir`, with the given subject and extensions. */
async function signed(dir: string, name: string, subject: string, extensions: string): Promise<ServingCertificate> {
  await openssl(dir, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', VALID_DAYS, '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
  return { certificate: await readFile(join(dir, `${name}.crt`), 'utf8'), key: await readFile(join(dir, `${name}.key`), 'utf8') };
}

/** The subjectAltName line of a node's apiserver: its address, loopback and the in-cluster names. */
export function servingAltNames(host: string): string {
  const address = /^[\d.]+$/.test(host) || host.includes(':') ? `IP:${host}` : `DNS:${host}`;
  return [address, 'IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc'].join(',');
}

/** Makes a fresh PKI for the nodes (name and host each) in a temporary directory, removed afterwards. */
export async function generatePki(nodes: readonly { name: string; host: string }[]): Promise<ClusterPki> {
  const dir = await mkdtemp(join(tmpdir(), 'faultline-k8s-pki-'));
  try {
    await openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', VALID_DAYS, '-subj', '/CN=faultline-k8s-ca']);
    const serving: Record<string, ServingCertificate> = {};
    for (const node of nodes) {
      serving[node.name] = await signed(
        dir,
        `apiserver-${node.name}`,
        '/CN=kube-apiserver',
        `subjectAltName=${servingAltNames(node.host)}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`,
      );
    }
    // Organisation system:masters: the group Kubernetes' default RBAC binds to cluster-admin.
    const client = await signed(dir, 'faultline-client', '/O=system:masters/CN=faultline', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    await openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key']);
    await openssl(dir, ['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
    return {
      caCertificate: await readFile(join(dir, 'ca.crt'), 'utf8'),
      serving,
      clientCertificate: client.certificate,
      clientKey: client.key,
      serviceAccountKey: await readFile(join(dir, 'sa.key'), 'utf8'),
      serviceAccountPublicKey: await readFile(join(dir, 'sa.pub'), 'utf8'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
