// One run of the language server: find it, start it over stdio, wire settings, ghost-text gating,
// progress and the tests preview, and turn every way it can fail into a sentence that names the fix.
import * as vscode from 'vscode';
import {
  CloseAction, ConfigurationParams, ConfigurationRequest, DidChangeConfigurationNotification, ErrorAction,
  CancellationToken, CodeActionResolveRequest, LanguageClient, LanguageClientOptions, LogMessageNotification, MessageType,
  RevealOutputChannelOn, ServerOptions, ShowMessageNotification, State, TransportKind,
} from 'vscode-languageclient/node';
import { CursorReporter } from './cursor';
import { findServer, INSTALL_HINT, ServerCommand, ServerNotFoundError } from './discovery';
import { discoveryInput } from './environments';
import { SuggestionGate } from './gate';
import { EditPreview, previewEdit } from './preview';
import { ProgressWatcher } from './progress';
import { serverSettings } from './settings';
import { StatusBar } from './status';

const MAX_RESTARTS = 3;
const LOADED_PATTERN = /^seekcode: loaded (.+?) \(/;

export function currentSettings(log?: vscode.LogOutputChannel) {
  const mapped = serverSettings(vscode.workspace.getConfiguration('seekcode'));
  mapped.problems.forEach((problem) => log?.warn(problem));
  return mapped.settings;
}

export class ServerSession implements vscode.Disposable {
  client: LanguageClient | undefined;
  server: ServerCommand | undefined;
  private restarts = 0;
  private modelSetting: string | undefined;
  private cursor: CursorReporter | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly status: StatusBar,
    private readonly gate: SuggestionGate,
    readonly preview: EditPreview,
  ) {
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('seekcode.server')) {
          void this.restart(); // another executable: nothing of the running one carries over
        } else if (event.affectsConfiguration('seekcode')) {
          this.settingsChanged();
        }
      }),
    );
  }

  async start(): Promise<void> {
    this.status.starting();
    this.gate.update(currentSettings(this.log));
    this.modelSetting = currentSettings().model;
    this.status.setModel(this.modelSetting);
    try {
      this.server = findServer(await discoveryInput());
    } catch (error) {
      if (error instanceof ServerNotFoundError) {
        this.log.error(`${error.message} Tried: ${error.tried.join(', ')}`);
        this.fail(error.message);
        return;
      }
      throw error;
    }
    this.log.info(`starting ${this.server.command} ${this.server.args.join(' ')} (found via ${this.server.source})`);
    const client = this.createClient(this.server);
    this.client = client;
    client.registerFeature(new ProgressWatcher(client, this.status));
    // Registered before start(), so they replace the client's built-in handlers.
    client.onNotification(LogMessageNotification.type, (params) => {
      const loaded = LOADED_PATTERN.exec(params.message);
      if (loaded) {
        this.status.setModel(loaded[1]);
        this.status.ready();
      }
      this.log.info(params.message);
    });
    client.onNotification(ShowMessageNotification.type, (params) => {
      if (params.type === MessageType.Error) {
        this.log.error(params.message);
        this.status.error(params.message.replace(/^seekcode: /, ''));
        void this.notify(params.message);
      } else if (params.type === MessageType.Warning) {
        this.log.warn(params.message);
        void vscode.window.showWarningMessage(params.message);
      } else {
        void vscode.window.showInformationMessage(params.message);
      }
    });
    client.onDidChangeState((event) => {
      if (event.newState === State.Running) {
        this.status.running();
      }
    });
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      client.dispose().catch(() => undefined); // no restarts of a server that never came up
      this.fail(`the server ${this.server.command} did not start (${messageOf(error)}); its output is in the log. ` +
        `Reinstall it with ${INSTALL_HINT}, or point seekcode.server.command at a working one.`);
      return;
    }
    this.restarts = 0;
    this.status.running();
    this.cursor = new CursorReporter(client, (languageId) => this.gate.allows(languageId));
  }

  async stop(): Promise<void> {
    this.cursor?.dispose();
    this.cursor = undefined;
    const client = this.client;
    this.client = undefined;
    if (client && client.state !== State.Stopped) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.log.warn(`stopping the server: ${messageOf(error)}`);
      }
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Whether the running server offers a workspace/executeCommand command. */
  offers(command: string): boolean {
    const commands = this.client?.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    return commands.includes(command);
  }

  private settingsChanged(): void {
    const settings = currentSettings(this.log);
    this.gate.update(settings);
    if (settings.model !== this.modelSetting) {
      // Until the server says what it loaded, show what was asked for.
      this.modelSetting = settings.model;
      this.status.setModel(settings.model);
    }
    this.status.gateChanged();
    if (this.client?.isRunning()) {
      void this.client.sendNotification(DidChangeConfigurationNotification.type, { settings: { seekcode: settings } });
    }
  }

  private fail(message: string): void {
    this.log.error(message);
    this.status.error(message);
    void this.notify(`seekcode: ${message}`);
  }

  private async notify(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Show Log', 'Open Settings');
    if (choice === 'Show Log') {
      this.log.show(true);
    } else if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'seekcode.server');
    }
  }

  private createClient(server: ServerCommand): LanguageClient {
    const serverOptions: ServerOptions = {
      command: server.command,
      args: server.args,
      transport: TransportKind.stdio,
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.log,
      // Our own notifications name the fix; the client's generic ones ("connection is erroring") would
      // only pile up beside them. Everything still goes to the log.
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => currentSettings(),
      diagnosticCollectionName: 'seekcode',
      middleware: {
        // Ghost text only: the suggest widget belongs to IntelliSense, and fighting it is what
        // users of other assistants complain about.
        provideCompletionItem: () => undefined,
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          const manual = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
          if (!manual && !this.gate.allows(document.languageId)) {
            return undefined;
          }
          this.status.beginSuggestion();
          try {
            return await next(document, position, context, token);
          } finally {
            this.status.endSuggestion();
          }
        },
        resolveCodeAction: async (item, token, next) => {
          const client = this.client;
          if (!client || !isTestsAction(item)) {
            return next(item, token);
          }
          // Resolved here rather than by `next`, to get the protocol edit and put it in the preview.
          const resolved = await client.sendRequest(
            CodeActionResolveRequest.type, client.code2ProtocolConverter.asCodeActionSync(item), token,
          );
          if (resolved?.edit) {
            item.edit = previewEdit(client, resolved.edit, 'seekcode: generated tests');
          }
          return item;
        },
        workspace: {
          configuration: async (params: ConfigurationParams, token, next: ConfigurationRequest.HandlerSignature) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) {
              return answers;
            }
            return params.items.map((item, index) => (item.section === 'seekcode' ? currentSettings() : answers[index]));
          },
          handleApplyEdit: (params, next) => {
            const client = this.client;
            return this.preview.armed && client ? this.preview.apply(client, params) : next(params, CancellationToken.None);
          },
        },
      },
      // A failed start is reported once, by start()'s caller, with the fix.
      initializationFailedHandler: () => false,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => {
          if (this.client !== client) {
            // start() failed and gave up on this client (or a newer one replaced it): leave it down.
            return { action: CloseAction.DoNotRestart, handled: true };
          }
          if (this.restarts < MAX_RESTARTS) {
            this.restarts += 1;
            this.status.starting();
            this.log.warn(`the server stopped; restarting (${this.restarts}/${MAX_RESTARTS})`);
            return { action: CloseAction.Restart, handled: true };
          }
          const message = `the server stopped ${MAX_RESTARTS + 1} times; its output is in the log. ` +
            'Fix the cause, then run "seekcode: Restart Server".';
          this.fail(message);
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    const client: LanguageClient = new LanguageClient('seekcode', 'seekcode', serverOptions, clientOptions);
    return client;
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    void this.stop();
  }
}

/** The server's "Generate tests" action (its data says kind "tests"; see the assist handlers). */
function isTestsAction(item: vscode.CodeAction): boolean {
  const data = (item as vscode.CodeAction & { data?: { kind?: unknown } }).data;
  return typeof data === 'object' && data !== null && data.kind === 'tests';
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
