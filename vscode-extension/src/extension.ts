// seekcode for VS Code: a LanguageClient around `seekcode-lsp`, plus a status bar and commands.
import * as vscode from 'vscode';
import { ServerSession } from './client';
import { Commands } from './commands';
import { SuggestionGate } from './gate';
import { EditPreview } from './preview';
import { StatusBar } from './status';

let session: ServerSession | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('seekcode', { log: true });
  const gate = new SuggestionGate();
  const status = new StatusBar(gate);
  session = new ServerSession(log, status, gate, new EditPreview());
  const commands = new Commands(session, gate, status, log);
  context.subscriptions.push(log, status, session, ...commands.register());
  await session.start();
}

export async function deactivate(): Promise<void> {
  await session?.stop();
  session = undefined;
}
