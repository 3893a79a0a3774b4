// What the status bar item says in each state. No vscode import, so plain mocha tests it.

export type StatusState =
  | { kind: 'starting' }
  | { kind: 'idle'; model: string }
  | { kind: 'working'; model: string; title: string }
  | { kind: 'disabled'; model: string; reason: string }
  | { kind: 'snoozed'; model: string; until: number }
  | { kind: 'error'; message: string };

export interface StatusPresentation {
  text: string;
  tooltip: string;
  error: boolean;
}

function clock(epochMs: number): string {
  const date = new Date(epochMs);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

export function modelLabel(modelPath: string | undefined): string {
  if (!modelPath) {
    return 'bundled model';
  }
  const base = modelPath.split(/[\\/]/).pop() ?? modelPath;
  return base.replace(/\.gguf$/i, '');
}

export function present(state: StatusState): StatusPresentation {
  switch (state.kind) {
    case 'starting':
      return { text: '$(loading~spin) seekcode', tooltip: 'seekcode: starting the server', error: false };
    case 'idle':
      return { text: `$(sparkle) ${state.model}`, tooltip: `seekcode: ready (${state.model}). Click for options.`, error: false };
    case 'working':
      return { text: `$(loading~spin) ${state.model}`, tooltip: `${state.title} (${state.model})`, error: false };
    case 'disabled':
      return { text: `$(circle-slash) ${state.model}`, tooltip: `seekcode: suggestions off ${state.reason}. Click for options.`, error: false };
    case 'snoozed':
      return { text: `$(clock) ${state.model}`, tooltip: `seekcode: snoozed until ${clock(state.until)}. Click for options.`, error: false };
    case 'error':
      return { text: '$(error) seekcode', tooltip: `seekcode: ${state.message} Click to show the log.`, error: true };
  }
}
