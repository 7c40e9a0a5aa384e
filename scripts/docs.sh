#!/usr/bin/env bash
# Builds the DocC reference of every library product, offline, with every
# DocC warning (a broken ``symbol`` link, an undocumented parameter, a topic
# that names nothing) an error, so the catalogs cannot rot. First it checks
# that every public declaration has a `///` doc comment
# (scripts/check-doc-comments.sh).
#
#   bash scripts/docs.sh            # -> .build/docs/<Module>.doccarchive
#
# It reads the symbols from the debug build that `swift build` (or the test
# stage's `swift test`) already made, with `swift symbolgraph-extract`, and
# runs `docc convert` on each Sources/<Module>/<Module>.docc catalog: seconds,
# where `swift package generate-documentation` (swift-docc-plugin) would
# rebuild the whole package with other flags first. The plugin works too, for
# a browsable site: see README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODULES=(ScaleKit ScaleKitServices ScaleKitRedis ScaleKitPostgres ScaleKitSQLite ScaleKitAudio ScaleKitTesting)

log() { echo "[docs] $*" >&2; }

# Every public declaration says what it promises (cheap, so first).
if ! bash "$ROOT/scripts/check-doc-comments.sh"; then
  log "FAILED: public declarations without a doc comment (above)"
  exit 1
fi

# --build-tests: the same flags as the unit stage's `swift test`, so nothing is rebuilt.
swift build --build-tests >/dev/null
BIN=$(swift build --build-tests --show-bin-path)
TRIPLE=$(basename "$(dirname "$BIN")")
# The C modules (the system libraries' module maps and the packages' C targets)
# the Swift modules import, as the build itself passes them.
CLANG_ARGS=()
while IFS= read -r map; do CLANG_ARGS+=(-Xcc "-fmodule-map-file=$map"); done < <(
  find "$BIN" -maxdepth 2 -name module.modulemap
  find "$ROOT/Sources" -maxdepth 2 -name module.modulemap
)
while IFS= read -r dir; do CLANG_ARGS+=(-Xcc "-I$dir"); done < <(find "$ROOT/.build/checkouts" -path '*/include' -type d)
# The system libraries' headers (libpq's live in /usr/include/postgresql).
for flag in $(pkg-config --cflags-only-I libpq sqlite3 hiredis libavformat libavcodec libswresample libavutil); do
  CLANG_ARGS+=(-Xcc "$flag")
done

OUT="$ROOT/.build/docs"
rm -rf "$OUT"
mkdir -p "$OUT"
failed=0
for module in "${MODULES[@]}"; do
  graphs="$OUT/symbol-graphs/$module"
  mkdir -p "$graphs"
  if ! swift symbolgraph-extract -module-name "$module" -I "$BIN/Modules" "${CLANG_ARGS[@]}" -target "$TRIPLE" \
    -minimum-access-level public -skip-inherited-docs -output-dir "$graphs"; then
    log "FAILED: could not read the symbols of $module"
    failed=1
    continue
  fi
  catalog="Sources/$module/$module.docc"
  [ -d "$catalog" ] || { log "FAILED: $module has no catalog ($catalog)"; failed=1; continue; }
  # The core's archive goes first, and every other module resolves its links
  # to the core's symbols (``ScaleKit/ScaleKitError``) against it.
  dependency=()
  [ "$module" = ScaleKit ] || dependency=(--dependency "$OUT/ScaleKit.doccarchive")
  if docc convert "$catalog" --additional-symbol-graph-dir "$graphs" --fallback-display-name "$module" \
    --fallback-bundle-identifier "org.scalekit.$module" --warnings-as-errors \
    --enable-experimental-external-link-support "${dependency[@]}" \
    --output-path "$OUT/$module.doccarchive" >"$OUT/$module.log" 2>&1; then
    log "$module: $(find "$OUT/$module.doccarchive/data/documentation" -name '*.json' | wc -l) pages"
  else
    cat "$OUT/$module.log" >&2
    log "FAILED: $module's documentation has errors (above)"
    failed=1
  fi
done
[ "$failed" -eq 0 ] && log "every catalog built without a warning: $OUT"
exit "$failed"
