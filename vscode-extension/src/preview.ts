// Generated tests arrive as a workspace/applyEdit; while `armed`, the edit is shown in VS Code's
// refactor preview (every change needs confirmation) instead of being applied at once.
import * as vscode from 'vscode';
import { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult, LanguageClient, TextDocumentEdit, TextEdit } from 'vscode-languageclient/node';

export class EditPreview {
  private armedLabel: string | undefined;

  /** Run `work` with edits from the server going to the preview under `label`. */
  async during<T>(label: string, work: () => Promise<T>): Promise<T> {
    this.armedLabel = label;
    try {
      return await work();
    } finally {
      this.armedLabel = undefined;
    }
  }

  get armed(): boolean {
    return this.armedLabel !== undefined;
  }

  async apply(client: LanguageClient, params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> {
    const p2c = client.protocol2CodeConverter;
    const metadata: vscode.WorkspaceEditEntryMetadata = {
      needsConfirmation: true,
      label: params.label ?? this.armedLabel ?? 'seekcode',
    };
    const edit = new vscode.WorkspaceEdit();
    for (const change of params.edit.documentChanges ?? []) {
      if (TextDocumentEdit.is(change)) {
        const uri = p2c.asUri(change.textDocument.uri);
        for (const textEdit of change.edits) {
          const newText = 'newText' in textEdit ? textEdit.newText : textEdit.snippet.value;
          edit.replace(uri, p2c.asRange(textEdit.range), newText, metadata);
        }
      } else if (change.kind === 'create') {
        edit.createFile(p2c.asUri(change.uri), change.options ?? {}, metadata);
      } else if (change.kind === 'rename') {
        edit.renameFile(p2c.asUri(change.oldUri), p2c.asUri(change.newUri), change.options ?? {}, metadata);
      } else if (change.kind === 'delete') {
        edit.deleteFile(p2c.asUri(change.uri), change.options ?? {}, metadata);
      }
    }
    for (const [uri, textEdits] of Object.entries(params.edit.changes ?? {}) as [string, TextEdit[]][]) {
      for (const textEdit of textEdits) {
        edit.replace(p2c.asUri(uri), p2c.asRange(textEdit.range), textEdit.newText, metadata);
      }
    }
    const applied = await vscode.workspace.applyEdit(edit, { isRefactoring: true });
    return applied ? { applied } : { applied, failureReason: 'Discarded in the preview.' };
  }
}
