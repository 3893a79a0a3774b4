import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findModels, formatBytes, modelSearchDirs } from '../src/models';

describe('findModels', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'seekcode-models-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('lists GGUF files largest first, once per real file, skipping hidden folders', () => {
    const hub = path.join(root, 'hub', 'models--org--coder');
    fs.mkdirSync(path.join(hub, 'blobs'), { recursive: true });
    fs.mkdirSync(path.join(hub, 'snapshots', 'abc'), { recursive: true });
    fs.writeFileSync(path.join(hub, 'blobs', 'sha256-1'), Buffer.alloc(3000));
    fs.symlinkSync(path.join(hub, 'blobs', 'sha256-1'), path.join(hub, 'snapshots', 'abc', 'coder-q4.gguf'));
    fs.symlinkSync(path.join(hub, 'blobs', 'sha256-1'), path.join(hub, 'snapshots', 'abc', 'same-file.GGUF'));
    fs.writeFileSync(path.join(root, 'small.gguf'), Buffer.alloc(10));
    fs.writeFileSync(path.join(root, 'notes.txt'), 'not a model');
    fs.mkdirSync(path.join(root, '.git'));
    fs.writeFileSync(path.join(root, '.git', 'hidden.gguf'), Buffer.alloc(99999));
    const models = findModels([root, path.join(root, 'missing')]);
    assert.deepStrictEqual(models.map((m) => path.basename(m.path)), ['coder-q4.gguf', 'small.gguf']);
    assert.strictEqual(models[0].bytes, 3000);
  });

  it('stops at the depth limit', () => {
    const deep = path.join(root, 'a', 'b', 'c');
    fs.mkdirSync(deep, { recursive: true });
    fs.writeFileSync(path.join(deep, 'deep.gguf'), 'x');
    assert.strictEqual(findModels([root], 2).length, 0);
    assert.strictEqual(findModels([root], 3).length, 1);
  });
});

describe('modelSearchDirs', () => {
  it('starts with $SEEKCODE_MODEL\'s folder and the workspace, honours XDG_CACHE_HOME', () => {
    const dirs = modelSearchDirs('/home/me', ['/work/project'], { SEEKCODE_MODEL: '/data/m/coder.gguf', XDG_CACHE_HOME: '/cache' });
    assert.deepStrictEqual(dirs.slice(0, 3), ['/data/m', '/work/project', '/cache/seekcode']);
    assert.ok(dirs.includes('/cache/huggingface/hub'));
    assert.ok(dirs.includes('/home/me/.lmstudio/models'));
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    assert.strictEqual(formatBytes(512), '512 B');
    assert.strictEqual(formatBytes(13 * 1024 * 1024), '13 MB');
    assert.strictEqual(formatBytes(1.5 * 1024 ** 3), '1.5 GB');
  });
});
