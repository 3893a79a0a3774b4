// GGUF files in the places people keep them, for the "Pick Model" quick pick.
// No vscode import, so plain mocha tests it.
import * as fs from 'fs';
import * as path from 'path';

export interface ModelFile {
  path: string;
  bytes: number;
}

export function modelSearchDirs(home: string, workspaceFolders: string[], env: NodeJS.ProcessEnv): string[] {
  const cache = env.XDG_CACHE_HOME || path.join(home, '.cache');
  const dirs = [
    ...workspaceFolders,
    path.join(cache, 'seekcode'),
    path.join(cache, 'seekcode-dev'),
    path.join(cache, 'llama.cpp'),
    path.join(cache, 'huggingface', 'hub'),
    path.join(cache, 'lm-studio', 'models'),
    path.join(home, '.lmstudio', 'models'),
    path.join(home, 'models'),
    path.join(home, 'Models'),
  ];
  if (env.SEEKCODE_MODEL) {
    dirs.unshift(path.dirname(env.SEEKCODE_MODEL));
  }
  if (env.HF_HOME) {
    dirs.push(path.join(env.HF_HOME, 'hub'));
  }
  return [...new Set(dirs)];
}

/** .gguf files under `dirs`, at most `maxDepth` folders deep, largest first, no duplicates. */
export function findModels(dirs: string[], maxDepth = 5, limit = 200): ModelFile[] {
  const found = new Map<string, ModelFile>();
  const visit = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // missing or unreadable: nothing there for us
    }
    for (const entry of entries) {
      if (found.size >= limit) {
        return;
      }
      const full = path.join(dir, entry.name);
      if (entry.name.startsWith('.') || entry.name === 'node_modules') {
        continue;
      }
      if (entry.isDirectory() && depth < maxDepth) {
        visit(full, depth + 1);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && entry.name.toLowerCase().endsWith('.gguf')) {
        try {
          const real = fs.realpathSync(full);
          const stat = fs.statSync(real);
          // Hugging Face snapshots are symlinks into blobs/: list the readable name once.
          if (stat.isFile() && !found.has(real)) {
            found.set(real, { path: full, bytes: stat.size });
          }
        } catch {
          // a dangling link
        }
      }
    }
  };
  for (const dir of dirs) {
    visit(dir, 0);
  }
  return [...found.values()].sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path));
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
