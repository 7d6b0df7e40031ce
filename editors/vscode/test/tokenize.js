// Tokenizes files with the extension's TextMate grammar, as VS Code does (vscode-textmate and
// vscode-oniguruma), and prints one JSON array: for each file, its tokens as
// {line, text, scopes}. Usage: node test/tokenize.js FILE... (tests/test_editors.py reads it).
"use strict";

const fs = require("fs");
const path = require("path");
const textmate = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

async function main(files) {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.route") return null;
      const file = path.join(__dirname, "..", "syntaxes", "route.tmLanguage.json");
      return textmate.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  const grammar = await registry.loadGrammar("source.route");
  const out = [];
  for (const file of files) {
    const lines = fs.readFileSync(file, "utf8").split(/\r\n|\r|\n/);
    let state = textmate.INITIAL;
    const tokens = [];
    lines.forEach((line, index) => {
      const result = grammar.tokenizeLine(line, state);
      for (const token of result.tokens) {
        tokens.push({ line: index + 1, text: line.substring(token.startIndex, token.endIndex), scopes: token.scopes });
      }
      state = result.ruleStack;
    });
    out.push({ file, tokens });
  }
  process.stdout.write(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
