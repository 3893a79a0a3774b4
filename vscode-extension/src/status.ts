// The status bar item: model name, idle / working (from $/progress and in-flight suggestions),
// snoozed / off, or an error that opens the log when clicked.
import * as vscode from 'vscode';
import { SuggestionGate } from './gate';
import { modelLabel, present, StatusState } from './statusState';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('seekcode.status', vscode.StatusBarAlignment.Right, 100);
  private model = modelLabel(undefined);
  private server: 'starting' | 'running' | 'error' = 'starting';
  private errorMessage = '';
  private readonly work = new Map<string, string>();
  private suggesting = 0;
  private snoozeTimer: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly gate: SuggestionGate) {
    this.item.name = 'seekcode';
    this.subscriptions.push(vscode.window.onDidChangeActiveTextEditor(() => this.render()));
    this.render();
    this.item.show();
  }

  setModel(path: string | undefined): void {
    this.model = modelLabel(path);
    this.render();
  }

  starting(): void {
    this.server = 'starting';
    this.render();
  }

  /** The server is up; an error it reported (say, a model that failed to load) stays shown. */
  running(): void {
    if (this.server !== 'error') {
      this.server = 'running';
    }
    this.render();
  }

  /** The model loaded: whatever went wrong before is over. */
  ready(): void {
    this.server = 'running';
    this.render();
  }

  error(message: string): void {
    this.server = 'error';
    this.errorMessage = message;
    this.work.clear();
    this.suggesting = 0;
    this.render();
  }

  beginWork(id: string, title: string): void {
    this.work.set(id, title);
    this.render();
  }

  endWork(id: string): void {
    this.work.delete(id);
    this.render();
  }

  beginSuggestion(): void {
    this.suggesting += 1;
    this.render();
  }

  endSuggestion(): void {
    this.suggesting = Math.max(0, this.suggesting - 1);
    this.render();
  }

  /** Re-render now, and again when a snooze ends. */
  gateChanged(): void {
    if (this.snoozeTimer) {
      clearTimeout(this.snoozeTimer);
      this.snoozeTimer = undefined;
    }
    const end = this.gate.snoozeEnd();
    if (end !== undefined) {
      this.snoozeTimer = setTimeout(() => this.gateChanged(), end - Date.now() + 50);
    }
    this.render();
  }

  private state(): StatusState {
    if (this.server === 'error') {
      return { kind: 'error', message: this.errorMessage };
    }
    if (this.server === 'starting') {
      return { kind: 'starting' };
    }
    const titles = [...this.work.values()];
    if (titles.length > 0) {
      return { kind: 'working', model: this.model, title: titles[titles.length - 1] };
    }
    if (this.suggesting > 0) {
      return { kind: 'working', model: this.model, title: 'seekcode: suggesting' };
    }
    const until = this.gate.snoozeEnd();
    if (until !== undefined) {
      return { kind: 'snoozed', model: this.model, until };
    }
    const language = vscode.window.activeTextEditor?.document.languageId;
    if (language !== undefined && !this.gate.allows(language)) {
      return { kind: 'disabled', model: this.model, reason: `for ${language}` };
    }
    return { kind: 'idle', model: this.model };
  }

  private render(): void {
    const shown = present(this.state());
    this.item.text = shown.text;
    this.item.tooltip = shown.tooltip;
    this.item.command = shown.error ? 'seekcode.showLog' : 'seekcode.statusMenu';
    this.item.backgroundColor = shown.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    if (this.snoozeTimer) {
      clearTimeout(this.snoozeTimer);
    }
    this.subscriptions.forEach((s) => s.dispose());
    this.item.dispose();
  }
}
