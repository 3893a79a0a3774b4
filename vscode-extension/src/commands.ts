// The commands users run: docstring, tests (previewed), review, model, toggle / snooze, log.
// Server work goes through workspace/executeCommand with one argument object (see BRIEF contracts).
import * as os from 'os';
import * as vscode from 'vscode';
import { ExecuteCommandRequest } from 'vscode-languageclient/node';
import { ServerSession } from './client';
import { parseMinutes, SuggestionGate } from './gate';
import { findModels, formatBytes, modelSearchDirs } from './models';
import { enabledFor, serverSettings } from './settings';
import { StatusBar } from './status';

type ReviewScope = 'function' | 'file' | 'diff';

export class Commands {
  constructor(
    private readonly session: ServerSession,
    private readonly gate: SuggestionGate,
    private readonly status: StatusBar,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  register(): vscode.Disposable[] {
    const entries: [string, () => unknown][] = [
      ['seekcode.docstring.generate', () => this.generateDocstring()],
      ['seekcode.tests.generate', () => this.generateTests()],
      ['seekcode.review.function', () => this.review('function')],
      ['seekcode.review.file', () => this.review('file')],
      ['seekcode.review.changes', () => this.review('diff')],
      ['seekcode.pickModel', () => this.pickModel()],
      ['seekcode.restartServer', () => this.session.restart()],
      ['seekcode.showLog', () => this.log.show(true)],
      ['seekcode.toggle', () => this.toggle()],
      ['seekcode.toggleLanguage', () => this.toggleLanguage()],
      ['seekcode.snooze', () => this.snooze()],
      ['seekcode.triggerSuggestion', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')],
      ['seekcode.statusMenu', () => this.statusMenu()],
    ];
    return entries.map(([id, run]) => vscode.commands.registerCommand(id, run));
  }

  /** Send a seekcode.* command to the server; undefined (after telling the user) when it can't. */
  private async execute<T>(command: string, argument: object, title: string): Promise<T | undefined> {
    const client = this.session.client;
    if (!client?.isRunning()) {
      void vscode.window.showErrorMessage('seekcode: the server is not running; see "seekcode: Show Log", then "seekcode: Restart Server".');
      return undefined;
    }
    if (!this.session.offers(command)) {
      void vscode.window.showErrorMessage(
        `seekcode: this server does not offer ${command}; update it with \`pip install -U seekcode\`.`,
      );
      return undefined;
    }
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, async () => {
      try {
        return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] })) as T;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.log.error(`${command}: ${message}`);
        void vscode.window.showErrorMessage(`seekcode: ${message}`);
        return undefined;
      }
    });
  }

  private editorTarget(): { editor: vscode.TextEditor; argument: { uri: string; position: { line: number; character: number } } } | undefined {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('seekcode: open a file and put the cursor in a function first.');
      return undefined;
    }
    const position = editor.selection.active;
    return {
      editor,
      argument: { uri: editor.document.uri.toString(), position: { line: position.line, character: position.character } },
    };
  }

  /** An edit the server could not make or the user discarded: say why; notes of a success too. */
  private report(result: { applied: boolean; message?: string } | undefined, fallback: string): void {
    if (!result) {
      return;
    }
    if (!result.applied) {
      const message = `seekcode: ${result.message ?? fallback}`;
      this.log.warn(message);
      void vscode.window.showWarningMessage(message);
    } else if (result.message) {
      void vscode.window.showInformationMessage(`seekcode: ${result.message}`);
    }
  }

  private async generateDocstring(): Promise<void> {
    const target = this.editorTarget();
    if (!target) {
      return;
    }
    const result = await this.execute<{ applied: boolean; message?: string }>(
      'seekcode.generateDocstring', target.argument, 'seekcode: generating docstring',
    );
    this.report(result, 'no docstring was written.');
  }

  private async generateTests(): Promise<void> {
    const target = this.editorTarget();
    if (!target) {
      return;
    }
    const run = vscode.workspace.getConfiguration('seekcode').get<boolean>('tests.run') ?? false;
    const result = await this.session.preview.during('seekcode: generated tests', () =>
      this.execute<{ applied: boolean; message?: string }>(
        'seekcode.generateTests', { ...target.argument, run }, 'seekcode: generating tests',
      ),
    );
    this.report(result, 'the tests were not applied.');
  }

  private async review(scope: ReviewScope): Promise<void> {
    const target = this.editorTarget();
    if (!target) {
      return;
    }
    const selection = target.editor.selection;
    const argument: Record<string, unknown> = { uri: target.argument.uri, scope };
    if (scope === 'function') {
      argument.range = {
        start: { line: selection.start.line, character: selection.start.character },
        end: { line: selection.end.line, character: selection.end.character },
      };
    } else if (scope === 'diff') {
      argument.rev = 'HEAD';
    }
    const result = await this.execute<{ findings: number }>('seekcode.review', argument, 'seekcode: reviewing');
    if (result === undefined) {
      return;
    }
    if (result.findings > 0) {
      await vscode.commands.executeCommand('workbench.actions.view.problems');
    } else {
      void vscode.window.showInformationMessage('seekcode: review found nothing to report.');
    }
  }

  private async pickModel(): Promise<void> {
    const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
    const models = findModels(modelSearchDirs(os.homedir(), folders, process.env));
    const current = serverSettings(vscode.workspace.getConfiguration('seekcode')).settings.model;
    type Item = vscode.QuickPickItem & { value?: string; browse?: boolean };
    const items: Item[] = [
      { label: '$(package) Bundled model', description: current ? undefined : 'current', value: '' },
      ...models.map((model) => ({
        label: model.path.split(/[\\/]/).pop() ?? model.path,
        description: `${formatBytes(model.bytes)}${model.path === current ? ' · current' : ''}`,
        detail: model.path,
        value: model.path,
      })),
      { label: '$(folder-opened) Browse…', browse: true },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: 'seekcode: model', placeHolder: 'A GGUF code model' });
    if (!picked) {
      return;
    }
    let value = picked.value;
    if (picked.browse) {
      const files = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'GGUF models': ['gguf'] } });
      if (!files?.[0]) {
        return;
      }
      value = files[0].fsPath;
    }
    await vscode.workspace.getConfiguration('seekcode').update('model', value ?? '', vscode.ConfigurationTarget.Global);
  }

  private async toggle(): Promise<void> {
    const config = vscode.workspace.getConfiguration('seekcode');
    await config.update('enabled', !(config.get<boolean>('enabled') ?? true), vscode.ConfigurationTarget.Global);
  }

  private async toggleLanguage(): Promise<void> {
    const language = vscode.window.activeTextEditor?.document.languageId;
    if (!language) {
      return;
    }
    const config = vscode.workspace.getConfiguration('seekcode');
    const settings = serverSettings(config).settings;
    const languages = { ...(config.get<Record<string, boolean>>('languages') ?? {}), [language]: !enabledFor(settings, language) };
    await config.update('languages', languages, vscode.ConfigurationTarget.Global);
  }

  private async snooze(): Promise<void> {
    type Item = vscode.QuickPickItem & { minutes?: number; custom?: boolean; resume?: boolean };
    const items: Item[] = [
      ...(this.gate.snoozeEnd() !== undefined ? [{ label: 'Resume now', resume: true }] : []),
      ...[5, 15, 30, 60].map((minutes) => ({ label: `${minutes} minutes`, minutes })),
      { label: 'Other…', custom: true },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: 'seekcode: snooze suggestions for' });
    if (!picked) {
      return;
    }
    if (picked.resume) {
      this.gate.resume();
    } else {
      let minutes = picked.minutes;
      if (picked.custom) {
        const text = await vscode.window.showInputBox({
          title: 'seekcode: snooze for how many minutes?',
          validateInput: (value) => (parseMinutes(value) === undefined ? 'A number of minutes above 0.' : undefined),
        });
        minutes = text === undefined ? undefined : parseMinutes(text);
      }
      if (minutes === undefined) {
        return;
      }
      this.gate.snooze(minutes);
    }
    this.status.gateChanged();
  }

  private async statusMenu(): Promise<void> {
    const language = vscode.window.activeTextEditor?.document.languageId;
    const settings = serverSettings(vscode.workspace.getConfiguration('seekcode')).settings;
    const on = settings.enabled ?? true;
    const items: (vscode.QuickPickItem & { command: string })[] = [
      { label: on ? '$(circle-slash) Turn suggestions off' : '$(check) Turn suggestions on', command: 'seekcode.toggle' },
      { label: this.gate.snoozeEnd() !== undefined ? '$(clock) Resume or snooze…' : '$(clock) Snooze…', command: 'seekcode.snooze' },
      ...(language
        ? [{ label: `$(symbol-keyword) ${enabledFor(settings, language) ? 'Turn off' : 'Turn on'} for ${language}`, command: 'seekcode.toggleLanguage' }]
        : []),
      { label: '$(file-binary) Pick model…', command: 'seekcode.pickModel' },
      { label: '$(debug-restart) Restart server', command: 'seekcode.restartServer' },
      { label: '$(output) Show log', command: 'seekcode.showLog' },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: 'seekcode' });
    if (picked) {
      await vscode.commands.executeCommand(picked.command);
    }
  }
}
