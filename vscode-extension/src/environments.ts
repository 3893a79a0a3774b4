// Inputs to server discovery that come from VS Code: settings, workspace folders and the
// Python extension's selected environment (when that extension is installed).
import * as os from 'os';
import * as vscode from 'vscode';
import { DiscoveryInput } from './discovery';

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
  };
}

async function selectedPythonEnvironments(): Promise<string[]> {
  const found: string[] = [];
  const extension = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (extension) {
    try {
      const api = extension.isActive ? extension.exports : await extension.activate();
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
      const active = api?.environments?.getActiveEnvironmentPath(folder);
      if (active?.path) {
        found.push(active.path);
      }
    } catch {
      // the Python extension failing must not stop us: the other places are still tried
    }
  }
  const configured = vscode.workspace.getConfiguration('python').get<string>('defaultInterpreterPath');
  if (configured && configured !== 'python') {
    found.push(configured);
  }
  return found;
}

export async function discoveryInput(): Promise<DiscoveryInput> {
  const config = vscode.workspace.getConfiguration('seekcode');
  return {
    configuredCommand: config.get<string>('server.command') ?? '',
    configuredArgs: config.get<string[]>('server.args') ?? [],
    workspaceFolders: (vscode.workspace.workspaceFolders ?? [])
      .filter((folder) => folder.uri.scheme === 'file')
      .map((folder) => folder.uri.fsPath),
    pythonEnvironments: await selectedPythonEnvironments(),
    envPath: process.env.PATH ?? '',
    platform: process.platform,
    home: os.homedir(),
  };
}
