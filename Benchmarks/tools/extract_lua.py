#!/usr/bin/env python3
"""Prints the Lua source of one `static let NAME = RedisScript(<triple-quoted string>)`
from a Swift file, with Swift's multi-line string indentation removed, so
redis-benchmark can run exactly the script ScaleKit sends.

usage: extract_lua.py FILE.swift NAME
"""
import re
import sys


def main():
    path, name = sys.argv[1], sys.argv[2]
    src = open(path, encoding="utf-8").read()
    m = re.search(r"static let " + re.escape(name) + r'\s*=\s*RedisScript\(\s*"""\n(.*?)\n([ \t]*)"""', src, re.S)
    if not m:
        sys.exit(f"extract_lua: no RedisScript named {name} in {path}")
    body, indent = m.group(1), m.group(2)
    lines = [l[len(indent):] if l.startswith(indent) else l.lstrip() for l in body.split("\n")]
    if "\\(" in body:
        sys.exit("extract_lua: the script interpolates Swift values; cannot run it as is")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
