// VS Code's `seekcode.*` configuration -> the object the server reads (initializationOptions,
// workspace/didChangeConfiguration and workspace/configuration all carry the same one).
// No vscode import, so plain mocha tests it.

export interface ConfigReader {
  get<T>(key: string): T | undefined;
}

export const FIM_LAYOUTS = ['auto', 'psm', 'psm-anchored', 'spm', 'spm-tail'] as const;
export const REVIEW_TRIGGERS = ['onSave', 'onDemand', 'off'] as const;
export const BACKEND_FAMILIES = [
  'auto', 'plain', 'deepseek-coder', 'qwen2.5-coder', 'starcoder', 'codellama', 'codegemma',
] as const;

/** Remote inference (`seekcode.backend.*`); the API key stays in the environment. */
export interface BackendSettings {
  url?: string;
  apiKeyEnv?: string;
  family?: string;
  model?: string;
  allowInsecure?: boolean;
  caBundle?: string;
  timeout?: number;
}

export interface ServerSettings {
  model?: string;
  threads?: number;
  contextSize?: number;
  fimLayout?: string;
  maxTokens?: number;
  enabled?: boolean;
  languages?: Record<string, boolean>;
  review?: { trigger: string };
  tests?: { run?: boolean; timeout?: number };
  backend?: BackendSettings;
}

export interface MappedSettings {
  settings: ServerSettings;
  /** One sentence per setting left out because its value is impossible. */
  problems: string[];
}

function positiveInteger(
  config: ConfigReader, key: string, minimum: number, problems: string[],
): number | undefined {
  const value = config.get<unknown>(key);
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    problems.push(`seekcode.${key} must be a whole number of at least ${minimum}, not ${JSON.stringify(value)}; the server's default is used.`);
    return undefined;
  }
  return value;
}

function oneOf(
  config: ConfigReader, key: string, allowed: readonly string[], problems: string[],
): string | undefined {
  const value = config.get<unknown>(key);
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string' || !allowed.includes(value)) {
    problems.push(`seekcode.${key} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}; the default is used.`);
    return undefined;
  }
  return value;
}

function languageSwitches(config: ConfigReader, problems: string[]): Record<string, boolean> | undefined {
  const value = config.get<unknown>('languages');
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push('seekcode.languages must map language ids to true or false; it is ignored.');
    return undefined;
  }
  const switches: Record<string, boolean> = {};
  for (const [language, enabled] of Object.entries(value as Record<string, unknown>)) {
    if (typeof enabled === 'boolean') {
      switches[language] = enabled;
    } else {
      problems.push(`seekcode.languages.${language} must be true or false; it is ignored.`);
    }
  }
  return switches;
}

export function serverSettings(config: ConfigReader): MappedSettings {
  const problems: string[] = [];
  const settings: ServerSettings = {};
  const model = config.get<unknown>('model');
  if (typeof model === 'string' && model.trim()) {
    settings.model = model.trim();
  }
  const threads = positiveInteger(config, 'threads', 1, problems);
  if (threads !== undefined) {
    settings.threads = threads;
  }
  const contextSize = positiveInteger(config, 'contextSize', 256, problems);
  if (contextSize !== undefined) {
    settings.contextSize = contextSize;
  }
  const maxTokens = positiveInteger(config, 'maxTokens', 1, problems);
  if (maxTokens !== undefined) {
    settings.maxTokens = maxTokens;
  }
  const fimLayout = oneOf(config, 'fimLayout', FIM_LAYOUTS, problems);
  if (fimLayout !== undefined) {
    settings.fimLayout = fimLayout;
  }
  const enabled = config.get<unknown>('enabled');
  if (typeof enabled === 'boolean') {
    settings.enabled = enabled;
  }
  const languages = languageSwitches(config, problems);
  if (languages !== undefined) {
    settings.languages = languages;
  }
  const trigger = oneOf(config, 'review.trigger', REVIEW_TRIGGERS, problems);
  if (trigger !== undefined) {
    settings.review = { trigger };
  }
  const tests = testsSettings(config, problems);
  if (Object.keys(tests).length > 0) {
    settings.tests = tests;
  }
  const backend = backendSettings(config, problems);
  if (Object.keys(backend).length > 0) {
    settings.backend = backend;
  }
  return { settings, problems };
}

function testsSettings(config: ConfigReader, problems: string[]): { run?: boolean; timeout?: number } {
  const tests: { run?: boolean; timeout?: number } = {};
  const run = config.get<unknown>('tests.run');
  if (typeof run === 'boolean') {
    tests.run = run;
  }
  const timeout = config.get<unknown>('tests.timeout');
  if (typeof timeout === 'number' && timeout >= 1) {
    tests.timeout = timeout;
  } else if (timeout !== undefined && timeout !== null && timeout !== '') {
    problems.push(`seekcode.tests.timeout must be a number of seconds of at least 1, not ${JSON.stringify(timeout)}; the server's default is used.`);
  }
  return tests;
}

function backendSettings(config: ConfigReader, problems: string[]): BackendSettings {
  const backend: BackendSettings = {};
  for (const key of ['url', 'apiKeyEnv', 'model', 'caBundle'] as const) {
    const value = config.get<unknown>(`backend.${key}`);
    if (typeof value === 'string' && value.trim()) {
      backend[key] = value.trim();
    }
  }
  const family = oneOf(config, 'backend.family', BACKEND_FAMILIES, problems);
  if (family !== undefined) {
    backend.family = family;
  }
  const allowInsecure = config.get<unknown>('backend.allowInsecure');
  if (typeof allowInsecure === 'boolean') {
    backend.allowInsecure = allowInsecure;
  }
  const timeout = config.get<unknown>('backend.timeout');
  if (typeof timeout === 'number' && timeout >= 0.1) {
    backend.timeout = timeout;
  } else if (timeout !== undefined && timeout !== null && timeout !== '') {
    problems.push(`seekcode.backend.timeout must be a number of seconds of at least 0.1, not ${JSON.stringify(timeout)}; the server's default is used.`);
  }
  return backend;
}

/** Whether suggestions are on for a language: its own switch, else the global one. */
export function enabledFor(settings: ServerSettings, languageId: string): boolean {
  const own = settings.languages?.[languageId];
  return own ?? settings.enabled ?? true;
}

/** A ConfigReader over a plain object with dotted or nested keys (tests, workspace/configuration). */
export function objectReader(values: Record<string, unknown>): ConfigReader {
  return {
    get<T>(key: string): T | undefined {
      if (key in values) {
        return values[key] as T;
      }
      let node: unknown = values;
      for (const part of key.split('.')) {
        if (node === null || typeof node !== 'object' || !(part in (node as object))) {
          return undefined;
        }
        node = (node as Record<string, unknown>)[part];
      }
      return node as T;
    },
  };
}
