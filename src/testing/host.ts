// What end-to-end tests ask of this host before they run: whether a command is installed.
import { execFileSync } from 'node:child_process';

/** Whether `name` is on this host's PATH (tests that need iptables or etcd skip, or fail under CI, without it). */
export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
