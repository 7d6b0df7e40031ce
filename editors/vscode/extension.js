// The policylang extension: .route highlighting comes from syntaxes/route.tmLanguage.json;
// everything else is `policyc lsp`, started over stdio for the workspace's .route files.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("policylang");
  const [command, ...args] = config.get("server.command", ["policyc", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "route" }, { scheme: "untitled", language: "route" }],
    initializationOptions: { analysisDelay: config.get("analysisDelay", 0.4) },
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.route") },
  };
  client = new LanguageClient("policylang", "policylang (policyc lsp)", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `policylang: could not start \`${[command, ...args].join(" ")}\` (${error.message}). ` +
        "Install it with pip install 'policylang[lsp]', or set policylang.server.command.");
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
