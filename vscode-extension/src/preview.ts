// Generated tests are shown in VS Code's refactor preview (every change needs confirmation) instead
// of being applied at once: the command's workspace/applyEdit while `armed`, and the code action's edit.
import * as vscode from 'vscode';
import {
  ApplyWorkspaceEditParams, ApplyWorkspaceEditResult, LanguageClient, TextDocumentEdit, TextEdit, WorkspaceEdit,
} from 'vscode-languageclient/node';

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
    const edit = previewEdit(client, params.edit, params.label ?? this.armedLabel ?? 'seekcode');
    const applied = await vscode.workspace.applyEdit(edit, { isRefactoring: true });
    return applied ? { applied } : { applied, failureReason: 'Discarded in the preview.' };
  }
}

/** A protocol WorkspaceEdit as a VS Code one whose every change waits in the refactor preview. */
export function previewEdit(client: LanguageClient, source: WorkspaceEdit, label: string): vscode.WorkspaceEdit {
  const p2c = client.protocol2CodeConverter;
  const metadata: vscode.WorkspaceEditEntryMetadata = { needsConfirmation: true, label };
  const edit = new vscode.WorkspaceEdit();
  for (const change of source.documentChanges ?? []) {
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
  for (const [uri, textEdits] of Object.entries(source.changes ?? {}) as [string, TextEdit[]][]) {
    for (const textEdit of textEdits) {
      edit.replace(p2c.asUri(uri), p2c.asRange(textEdit.range), textEdit.newText, metadata);
    }
  }
  return edit;
}
