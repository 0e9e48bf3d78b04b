// Where scripts/build-k8s.sh leaves the k8s target's binaries: a cache keyed by the pinned versions (kept equal
// to the script's by binaries.test.ts), so the target, `faultline doctor` and the tests look in one place.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const KUBERNETES_VERSION = 'v1.34.4';
export const ETCD36_VERSION = 'v3.6.16';
export const BUILD_SCRIPT = 'scripts/build-k8s.sh';

export function k8sCacheDir(environment: NodeJS.ProcessEnv = process.env): string {
  return environment.FAULTLINE_K8S_CACHE || join(homedir(), '.cache', 'faultline', 'k8s');
}

export interface K8sBinaries {
  kubeApiserver: string;
  etcd: string;
}

export function k8sBinaries(environment: NodeJS.ProcessEnv = process.env): K8sBinaries {
  const cache = k8sCacheDir(environment);
  return {
    kubeApiserver: join(cache, `kubernetes-${KUBERNETES_VERSION}`, 'bin', 'kube-apiserver'),
    etcd: join(cache, `etcd-${ETCD36_VERSION}`, 'bin', 'etcd'),
  };
}

/** The binaries that are not built yet (empty when both are there). */
export function missingK8sBinaries(environment: NodeJS.ProcessEnv = process.env): string[] {
  return Object.values(k8sBinaries(environment)).filter((path) => !existsSync(path));
}
