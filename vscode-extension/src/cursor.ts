// Tells the server where the cursor comes to rest (`seekcode/cursor`, not part of LSP): it evaluates
// the prompt there while the user reads, so the first suggestion after they start typing comes sooner.
// Typing needs nothing: the server does the same at each edit, and a report right after one would
// only cut short the server's idle work for the suggestion on screen.
import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';

export const CURSOR_NOTIFICATION = 'seekcode/cursor';
const REST_MS = 300;
const SCHEMES = ['file', 'untitled']; // the documents the client serves
const EDIT_MOVES_MS = 50; // a selection change this soon after an edit is the edit's own

export class CursorReporter implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private lastPlace: string | undefined; // document and line last reported
  private lastEdit = 0;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly client: LanguageClient, private readonly allows: (languageId: string) => boolean) {
    this.subscriptions = [
      vscode.window.onDidChangeTextEditorSelection((event) => this.moved(event.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((editor) => editor && this.moved(editor)),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (!SCHEMES.includes(event.document.uri.scheme)) {
          return; // output channels, the log among them, change all the time
        }
        this.lastEdit = Date.now();
        clearTimeout(this.timer);
      }),
    ];
  }

  private moved(editor: vscode.TextEditor): void {
    if (Date.now() - this.lastEdit < EDIT_MOVES_MS) {
      return; // the edit itself moved the cursor (typing): its didChange already tells the server
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.report(editor), REST_MS);
  }

  private report(editor: vscode.TextEditor): void {
    const document = editor.document;
    if (editor !== vscode.window.activeTextEditor || !this.client.isRunning() ||
        !SCHEMES.includes(document.uri.scheme) || !this.allows(document.languageId)) {
      return;
    }
    const position = editor.selection.active;
    const place = `${document.uri.toString()}#${position.line}`;
    if (place === this.lastPlace) {
      return; // moving along a line changes little of its prompt
    }
    this.lastPlace = place;
    void this.client.sendNotification(CURSOR_NOTIFICATION, {
      textDocument: this.client.code2ProtocolConverter.asTextDocumentIdentifier(document),
      position: this.client.code2ProtocolConverter.asPosition(position),
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscriptions.forEach((subscription) => subscription.dispose());
  }
}
