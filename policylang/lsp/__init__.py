"""The language server (`policyc lsp`, over stdio): lint's diagnostics as you type, formatting,
hover, go to definition, references, completion and document symbols."""
