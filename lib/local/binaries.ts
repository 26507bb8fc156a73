/**
 * Finding the real server binaries the local environment and the tests run, with an error
 * that names the package to install when one is missing.
 */
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UserError } from '../errors.ts';

export interface BinarySpec {
  readonly debian: string;
  readonly homebrew: string;
  /** Extra directories searched after PATH (Debian keeps Postgres and nginx off the default PATH). */
  readonly extraDirs?: () => string[];
}

function postgresDirs(): string[] {
  const dirs: string[] = [];
  for (const root of ['/usr/lib/postgresql', '/opt/homebrew/opt', '/usr/local/opt']) {
    try {
      const versions = readdirSync(root)
        .filter((v) => /^\d+$/.test(v) || v.startsWith('postgresql'))
        .sort((a, b) => parseInt(b.replace(/\D/g, ''), 10) - parseInt(a.replace(/\D/g, ''), 10));
      for (const v of versions) dirs.push(join(root, v, 'bin'));
    } catch {
      // root absent on this system
    }
  }
  return dirs;
}

export const BINARIES = {
  postgres: { debian: 'postgresql', homebrew: 'postgresql@16', extraDirs: postgresDirs },
  initdb: { debian: 'postgresql', homebrew: 'postgresql@16', extraDirs: postgresDirs },
  pg_isready: { debian: 'postgresql', homebrew: 'postgresql@16', extraDirs: postgresDirs },
  psql: { debian: 'postgresql-client', homebrew: 'postgresql@16', extraDirs: postgresDirs },
  pgbench: { debian: 'postgresql-contrib', homebrew: 'postgresql@16', extraDirs: postgresDirs },
  'redis-server': { debian: 'redis-server', homebrew: 'redis' },
  'redis-cli': { debian: 'redis-tools', homebrew: 'redis' },
  nginx: { debian: 'nginx', homebrew: 'nginx', extraDirs: () => ['/usr/sbin', '/usr/local/sbin', '/opt/homebrew/bin'] },
  prometheus: { debian: 'prometheus', homebrew: 'prometheus' },
  promtool: { debian: 'prometheus', homebrew: 'prometheus' },
  wrk: { debian: 'wrk', homebrew: 'wrk' },
  hey: { debian: 'hey', homebrew: 'hey' },
  /** The Redis proxy of the Kubernetes target's Sentinel mode, tested against real Redis servers. */
  haproxy: { debian: 'haproxy', homebrew: 'haproxy', extraDirs: () => ['/usr/sbin', '/usr/local/sbin', '/opt/homebrew/bin'] },
} as const satisfies Record<string, BinarySpec>;

export type BinaryName = keyof typeof BINARIES;

export class MissingBinaryError extends UserError {
  constructor(readonly binary: string, readonly spec: BinarySpec) {
    super(
      `${binary} not found on PATH. Install it: Debian/Ubuntu \`sudo apt-get install -y ${spec.debian}\`, macOS \`brew install ${spec.homebrew}\``,
    );
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a binary, or undefined. `searchPath` defaults to the PATH environment variable. */
export function locateBinary(name: BinaryName, searchPath: string = process.env.PATH ?? ''): string | undefined {
  const spec: BinarySpec = BINARIES[name];
  const dirs = [...searchPath.split(delimiter).filter(Boolean), ...(spec.extraDirs?.() ?? [])];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Absolute path of a binary, or a MissingBinaryError naming the package. */
export function requireBinary(name: BinaryName, searchPath?: string): string {
  const found = locateBinary(name, searchPath);
  if (!found) throw new MissingBinaryError(name, BINARIES[name]);
  return found;
}
