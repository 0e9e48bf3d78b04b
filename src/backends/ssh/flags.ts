// The ssh backend's command-line flags, declared once so `faultline run` and `faultline cleanup` stay in step.
import type { Command } from 'commander';

/**
 * Spec-file field names of the ssh options (also their flag names without the dashes). Values given under
 * these names, in a spec file or as commander's camelCase flags, are what sshOptionsFromRecord reads.
 */
export const SSH_OPTION_FIELDS = [
  'ssh-user',
  'ssh-key',
  'ssh-port',
  'sudo',
  'ssh-agent',
  'ssh-strict',
  'ssh-known-hosts',
  'ssh-root',
  'ssh-tmpfs-mb',
] as const;

/** Adds the ssh backend's flags to a command (the host list itself is the command's --nodes). */
export function addSshFlags(command: Command): Command {
  return command
    .option('--ssh-user <user>', 'ssh: login user where a host does not name one (default root)')
    .option('--ssh-key <path>', 'ssh: private key (default: ssh-agent, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)')
    .option('--ssh-port <port>', 'ssh: port where a host does not name one (default 22)')
    .option('--sudo', 'ssh: run every command through sudo -n (default: only when the login user is not root)')
    .option('--ssh-agent [socket]', 'ssh: authenticate with ssh-agent (default socket: $SSH_AUTH_SOCK)')
    .option('--ssh-strict <bool>', 'ssh: verify host keys against known_hosts (default true; false is printed as a warning)')
    .option('--ssh-known-hosts <files>', 'ssh: known_hosts files, comma-separated (default ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts)')
    .option('--ssh-root <dir>', 'ssh: remote directory holding run directories (default /var/lib/faultline)')
    .option('--ssh-tmpfs-mb <mib>', 'ssh: tmpfs size for each node directory; 0 for none (default 256)');
}

/** The ssh options among parsed flags or spec fields, keyed by spec-file name, for createBackend('ssh', ...). */
export function sshOptionsIn(values: Record<string, unknown>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of SSH_OPTION_FIELDS) {
    const camel = field.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    const value = values[field] ?? values[camel];
    if (value !== undefined) picked[field] = value;
  }
  return picked;
}
