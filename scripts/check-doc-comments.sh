#!/usr/bin/env bash
# Lists every public (or open) declaration in Sources/ without a `///` doc
# comment, and fails if there is one, so the promise "every public symbol says
# what it promises" cannot rot. Attribute lines (`@inlinable`,
# `@discardableResult`, `@_spi(…)`) may sit between the comment and the
# declaration. Protocol-witness boilerplate whose meaning the protocol already
# documents is exempt: `description`, `debugDescription`, `init(from:)`,
# `encode(to:)`, `hash(into:)`, `==`. Imports and extensions are not symbols.
#
#   bash scripts/check-doc-comments.sh            # checks Sources/
#   bash scripts/check-doc-comments.sh DIR...     # checks other folders
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "$#" -gt 0 ] || set -- Sources
exec python3 - "$@" <<'PY'
import os, re, sys

DECL = re.compile(r'^\s*(?:@[\w.]+(?:\([^)]*\))?\s+)*(?:public|open)(?=\s+[A-Za-z_@])(?!\s+(?:import|extension)\b)(.*)$')
WITNESS = re.compile(
    r'\b(?:var\s+(?:description|debugDescription)\b'
    r'|init\(from\s+\w+:'
    r'|func\s+encode\(to\s+\w+:'
    r'|func\s+hash\(into\s+\w+:'
    r'|func\s+==\s*\()')
# A line that holds only attributes (a declaration after one is checked on its own).
ATTRIBUTE = re.compile(r'^\s*(?:@[\w.]+(?:\([^)]*\))?\s*)+$|^\s*@[\w.]+\($')

missing = []
for top in sys.argv[1:]:
    for folder, _, files in os.walk(top):
        if '/.build' in folder or folder.startswith('.build'):
            continue
        for name in sorted(files):
            if not name.endswith('.swift'):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding='utf-8') as handle:
                lines = handle.read().split('\n')
            in_block_comment = False
            for number, line in enumerate(lines):
                stripped = line.strip()
                if in_block_comment:
                    in_block_comment = '*/' not in stripped
                    continue
                if stripped.startswith('/*') and '*/' not in stripped:
                    in_block_comment = True
                    continue
                match = DECL.match(line)
                if not match or WITNESS.search(line):
                    continue
                previous = number - 1
                # Attributes (and the lines of a multi-line attribute) may separate comment and declaration.
                while previous >= 0 and (ATTRIBUTE.match(lines[previous]) or lines[previous].strip() in (')', '],')):
                    previous -= 1
                before = lines[previous].strip() if previous >= 0 else ''
                if before.startswith('///') or before.endswith('*/'):
                    continue
                missing.append(f'{path}:{number + 1}: {stripped}')

for entry in missing:
    print(entry)
if missing:
    print(f'{len(missing)} public declaration(s) without a /// doc comment', file=sys.stderr)
    sys.exit(1)
print('every public declaration has a doc comment', file=sys.stderr)
PY
