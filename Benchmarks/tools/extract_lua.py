#!/usr/bin/env python3
"""Prints the Lua source of one `static let NAME = RedisScript(<triple-quoted string>)`
(or `RedisScript(OTHER + <triple-quoted string>)`, OTHER a `static let` string
of the same file, such as shared helpers) from a Swift file, with Swift's
multi-line string indentation removed, so redis-benchmark can run exactly the
script ScaleKit sends.

usage: extract_lua.py FILE.swift NAME
"""
import re
import sys


def literal(body, indent):
    """A Swift multi-line string literal's value (the closing delimiter's indentation removed)."""
    if "\\(" in body:
        sys.exit("extract_lua: the script interpolates Swift values; cannot run it as is")
    return "\n".join(l[len(indent):] if l.startswith(indent) else l.lstrip() for l in body.split("\n"))


def main():
    path, name = sys.argv[1], sys.argv[2]
    src = open(path, encoding="utf-8").read()
    m = re.search(r"static let " + re.escape(name) + r'\s*=\s*RedisScript\(\s*(?:(\w+)\s*\+\s*)?"""\n(.*?)\n([ \t]*)"""', src, re.S)
    if not m:
        sys.exit(f"extract_lua: no RedisScript named {name} in {path}")
    prefix = ""
    if m.group(1):
        h = re.search(r"static let " + re.escape(m.group(1)) + r'\s*=\s*"""\n(.*?)\n([ \t]*)"""', src, re.S)
        if not h:
            sys.exit(f"extract_lua: {name} starts with {m.group(1)}, which is not a string of {path}")
        prefix = literal(h.group(1), h.group(2))
    print(prefix + literal(m.group(2), m.group(3)))


if __name__ == "__main__":
    main()
