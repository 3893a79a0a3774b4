// $/progress from the server (model loading, generating a docstring, …) shown in the window's
// progress area and in our status bar item. Registered after the client's built-in progress
// feature, so this handler of window/workDoneProgress/create is the one that stays.
import * as vscode from 'vscode';
import {
  ClientCapabilities, FeatureState, LanguageClient, ProgressToken, StaticFeature,
  WorkDoneProgress, WorkDoneProgressCreateParams, WorkDoneProgressCreateRequest,
} from 'vscode-languageclient/node';
import { StatusBar } from './status';

export class ProgressWatcher implements StaticFeature {
  private readonly active = new Map<string, () => void>();

  constructor(private readonly client: LanguageClient, private readonly status: StatusBar) {}

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = capabilities.window ?? {};
    capabilities.window.workDoneProgress = true;
  }

  getState(): FeatureState {
    return { kind: 'static' };
  }

  initialize(): void {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, (params: WorkDoneProgressCreateParams) => {
      this.watch(params.token);
    });
  }

  clear(): void {
    for (const finish of [...this.active.values()]) {
      finish();
    }
    this.active.clear();
  }

  private watch(token: ProgressToken): void {
    const id = String(token);
    let report: vscode.Progress<{ message?: string }> | undefined;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = () => {
        subscription.dispose();
        this.active.delete(id);
        this.status.endWork(id);
        resolve();
      };
    });
    const subscription = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
      if (value.kind === 'begin') {
        this.status.beginWork(id, value.title);
        void vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: value.title }, (progress) => {
          report = progress;
          if (value.message) {
            progress.report({ message: value.message });
          }
          return finished;
        });
      } else if (value.kind === 'report') {
        report?.report({ message: value.message });
      } else {
        finish();
      }
    });
    this.active.set(id, finish);
  }
}
