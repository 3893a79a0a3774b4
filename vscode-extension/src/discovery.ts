// Where the seekcode-lsp executable is: the setting, then the workspace's virtual environment,
// then the selected Python environment, then PATH. No vscode import, so plain mocha tests it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const SERVER_NAME = 'seekcode-lsp';
export const INSTALL_HINT = '`pip install seekcode` in your Python environment';
const VENV_DIRS = ['.venv', 'venv', 'env', '.env'];

export type ServerSource = 'setting' | 'workspace' | 'python' | 'path';

export interface ServerCommand {
  command: string;
  args: string[];
  source: ServerSource;
}

export interface DiscoveryInput {
  configuredCommand?: string;
  configuredArgs?: string[];
  workspaceFolders?: string[];
  /** Python executables or environment folders (the Python extension's selection). */
  pythonEnvironments?: string[];
  envPath?: string;
  platform?: NodeJS.Platform;
  home?: string;
  isExecutable?: (file: string) => boolean;
}

export class ServerNotFoundError extends Error {
  constructor(message: string, readonly tried: string[]) {
    super(message);
    this.name = 'ServerNotFoundError';
  }
}

export function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    if (process.platform === 'win32') {
      return true;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function executableNames(name: string, platform: NodeJS.Platform): string[] {
  return platform === 'win32' ? [`${name}.exe`, `${name}.cmd`, name] : [name];
}

function binDir(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'Scripts' : 'bin';
}

export function expandPath(value: string, home: string, workspaceFolder?: string): string {
  let expanded = value.trim();
  if (expanded === '~' || expanded.startsWith('~/') || expanded.startsWith('~\\')) {
    expanded = path.join(home, expanded.slice(1));
  }
  if (workspaceFolder !== undefined) {
    expanded = expanded.split('${workspaceFolder}').join(workspaceFolder);
  }
  return expanded;
}

/** Candidate files, in the order they are tried (without the setting and PATH). */
export function environmentCandidates(input: DiscoveryInput): { file: string; source: ServerSource }[] {
  const platform = input.platform ?? process.platform;
  const names = executableNames(SERVER_NAME, platform);
  const candidates: { file: string; source: ServerSource }[] = [];
  for (const folder of input.workspaceFolders ?? []) {
    for (const venv of VENV_DIRS) {
      for (const name of names) {
        candidates.push({ file: path.join(folder, venv, binDir(platform), name), source: 'workspace' });
      }
    }
  }
  for (const environment of input.pythonEnvironments ?? []) {
    // An interpreter (…/bin/python3) has the server beside it; an environment folder has it in bin/.
    const dirs = [path.dirname(environment), path.join(environment, binDir(platform))];
    for (const dir of dirs) {
      for (const name of names) {
        candidates.push({ file: path.join(dir, name), source: 'python' });
      }
    }
  }
  return candidates;
}

export function searchPath(name: string, input: DiscoveryInput): string | undefined {
  const platform = input.platform ?? process.platform;
  const isExecutable = input.isExecutable ?? isExecutableFile;
  const separator = platform === 'win32' ? ';' : ':';
  for (const dir of (input.envPath ?? '').split(separator)) {
    if (!dir) {
      continue;
    }
    for (const candidate of executableNames(name, platform)) {
      const file = path.join(dir, candidate);
      if (isExecutable(file)) {
        return file;
      }
    }
  }
  return undefined;
}

function fromSetting(input: DiscoveryInput, configured: string): ServerCommand {
  const home = input.home ?? os.homedir();
  const isExecutable = input.isExecutable ?? isExecutableFile;
  const args = input.configuredArgs ?? [];
  const command = expandPath(configured, home, input.workspaceFolders?.[0]);
  if (command.includes('/') || command.includes('\\')) {
    if (!isExecutable(command)) {
      throw new ServerNotFoundError(
        `The setting seekcode.server.command points to ${command}, which is not an executable file; ` +
          `fix the path, or clear the setting to use ${SERVER_NAME} from your Python environment.`,
        [command],
      );
    }
    return { command, args, source: 'setting' };
  }
  const onPath = searchPath(command, input);
  if (onPath === undefined) {
    throw new ServerNotFoundError(
      `The setting seekcode.server.command names ${command}, which is not on PATH; ` +
        'give its full path, or clear the setting.',
      [command],
    );
  }
  return { command: onPath, args, source: 'setting' };
}

/** The command to start the server, or ServerNotFoundError with a message naming the fix. */
export function findServer(input: DiscoveryInput): ServerCommand {
  const configured = (input.configuredCommand ?? '').trim();
  if (configured) {
    return fromSetting(input, configured);
  }
  const isExecutable = input.isExecutable ?? isExecutableFile;
  const args = input.configuredArgs ?? [];
  const candidates = environmentCandidates(input);
  for (const candidate of candidates) {
    if (isExecutable(candidate.file)) {
      return { command: candidate.file, args, source: candidate.source };
    }
  }
  const onPath = searchPath(SERVER_NAME, input);
  if (onPath !== undefined) {
    return { command: onPath, args, source: 'path' };
  }
  const where = ['the workspace\'s .venv', ...(input.pythonEnvironments?.length ? ['the selected Python environment'] : []), 'PATH'];
  throw new ServerNotFoundError(
    `${SERVER_NAME} was not found in ${where.join(', ')}; install it with ${INSTALL_HINT}, ` +
      'or set seekcode.server.command to its path.',
    [...candidates.map((c) => c.file), 'PATH'],
  );
}
