import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findServer, ServerNotFoundError } from '../src/discovery';

// Real files in a temporary folder: discovery is checked against the file system, not a fake.
function makeExecutable(file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(file, 0o755);
  return file;
}

describe('findServer', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'seekcode-discovery-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('uses the setting first, with ~ and ${workspaceFolder} expanded', () => {
    const workspace = path.join(root, 'project');
    const configured = makeExecutable(path.join(workspace, 'tools', 'seekcode-lsp'));
    makeExecutable(path.join(workspace, '.venv', 'bin', 'seekcode-lsp'));
    const found = findServer({
      configuredCommand: '${workspaceFolder}/tools/seekcode-lsp',
      configuredArgs: ['--threads', '2'],
      workspaceFolders: [workspace],
      envPath: '',
      platform: 'linux',
      home: root,
    });
    assert.deepStrictEqual(found, { command: configured, args: ['--threads', '2'], source: 'setting' });
    const fromHome = findServer({ configuredCommand: '~/project/tools/seekcode-lsp', platform: 'linux', home: root });
    assert.strictEqual(fromHome.command, configured);
  });

  it('names the setting and the fix when the configured path is not executable', () => {
    const notExecutable = path.join(root, 'seekcode-lsp');
    fs.writeFileSync(notExecutable, 'not a program');
    assert.throws(
      () => findServer({ configuredCommand: notExecutable, platform: 'linux', home: root }),
      (error: unknown) =>
        error instanceof ServerNotFoundError &&
        error.message.includes('seekcode.server.command') &&
        error.message.includes(notExecutable),
    );
  });

  it('resolves a bare configured name on PATH', () => {
    const bin = path.join(root, 'bin');
    const server = makeExecutable(path.join(bin, 'my-seekcode'));
    const found = findServer({ configuredCommand: 'my-seekcode', envPath: bin, platform: 'linux', home: root });
    assert.strictEqual(found.command, server);
    assert.throws(() => findServer({ configuredCommand: 'absent-server', envPath: bin, platform: 'linux', home: root }), /not on PATH/);
  });

  it('prefers the workspace virtual environment over the Python selection and PATH', () => {
    const workspace = path.join(root, 'project');
    const venv = makeExecutable(path.join(workspace, '.venv', 'bin', 'seekcode-lsp'));
    const selected = path.join(root, 'conda', 'bin', 'python3');
    makeExecutable(path.join(root, 'conda', 'bin', 'seekcode-lsp'));
    const bin = path.join(root, 'bin');
    makeExecutable(path.join(bin, 'seekcode-lsp'));
    const found = findServer({
      workspaceFolders: [workspace], pythonEnvironments: [selected], envPath: bin, platform: 'linux', home: root,
    });
    assert.deepStrictEqual(found, { command: venv, args: [], source: 'workspace' });
  });

  it('finds the server beside the selected interpreter, or in an environment folder', () => {
    const interpreterDir = path.join(root, 'envs', 'a', 'bin');
    const besideInterpreter = makeExecutable(path.join(interpreterDir, 'seekcode-lsp'));
    assert.deepStrictEqual(
      findServer({ pythonEnvironments: [path.join(interpreterDir, 'python')], envPath: '', platform: 'linux', home: root }),
      { command: besideInterpreter, args: [], source: 'python' },
    );
    const envFolder = path.join(root, 'envs', 'b');
    const inEnvFolder = makeExecutable(path.join(envFolder, 'bin', 'seekcode-lsp'));
    assert.strictEqual(
      findServer({ pythonEnvironments: [envFolder], envPath: '', platform: 'linux', home: root }).command,
      inEnvFolder,
    );
  });

  it('falls back to PATH, skipping non-executable files', () => {
    const first = path.join(root, 'first');
    fs.mkdirSync(first);
    fs.writeFileSync(path.join(first, 'seekcode-lsp'), 'not executable');
    const second = path.join(root, 'second');
    const server = makeExecutable(path.join(second, 'seekcode-lsp'));
    const found = findServer({ envPath: `${first}:${second}`, platform: 'linux', home: root });
    assert.deepStrictEqual(found, { command: server, args: [], source: 'path' });
  });

  it('fails with the install command and the setting in the message, listing what it tried', () => {
    const workspace = path.join(root, 'project');
    try {
      findServer({ workspaceFolders: [workspace], envPath: path.join(root, 'empty'), platform: 'linux', home: root });
      assert.fail('expected ServerNotFoundError');
    } catch (error) {
      assert.ok(error instanceof ServerNotFoundError);
      assert.match(error.message, /pip install seekcode/);
      assert.match(error.message, /seekcode\.server\.command/);
      assert.ok(error.tried.includes(path.join(workspace, '.venv', 'bin', 'seekcode-lsp')));
    }
  });

  it('looks for Scripts\\seekcode-lsp.exe on Windows', () => {
    const seen: string[] = [];
    assert.throws(() =>
      findServer({
        workspaceFolders: ['C:\\project'],
        envPath: 'C:\\bin',
        platform: 'win32',
        home: 'C:\\Users\\me',
        isExecutable: (file) => {
          seen.push(file);
          return false;
        },
      }),
    );
    assert.ok(seen.some((file) => file.includes('Scripts') && file.endsWith('seekcode-lsp.exe')), seen.join('\n'));
    assert.ok(seen.some((file) => file.endsWith('seekcode-lsp.exe') && file.startsWith('C:\\bin')), seen.join('\n'));
  });
});
