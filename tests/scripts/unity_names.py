#!/usr/bin/env python3
"""Names that two files of one unity batch both define with internal linkage.

The unity build (OODFLOW_UNITY_BUILD, the default) compiles each batch of sources as one
translation unit, so the anonymous namespaces (and `static` definitions) of its files become
one: two helpers of the same name in the same namespace are a compile error when their
signatures are the same, and worse, overloads of each other when they differ, so that a call
could silently take the other file's helper. This test reads the batches CMake generated in the
build directory (CMakeFiles/<target>.dir/Unity/unity_*.cxx) and fails on any name defined at
namespace scope, with internal linkage, in more than one file of a batch: rename one of them.

It reads the sources as clang-format writes them: definitions at namespace scope start in column
0 and each namespace closes with "}  // namespace". Usage: unity_names.py <build dir>
"""
import pathlib
import re
import sys

OPEN = re.compile(r"^namespace\s*([\w:]*)\s*\{")
CLOSE = re.compile(r"^\}\s*//\s*namespace")
TYPE = re.compile(r"^(?:template\s*<.*>\s*)?(?:struct|class|enum class|enum|union)\s+(\w+)")
ALIAS = re.compile(r"^using\s+(\w+)\s*=")
FUNCTION = re.compile(r"^[^=(;\"]*?\b(operator\s*\S+?|\w+)\s*\(")
VARIABLE = re.compile(r"^[^=(;\"]*?\b(\w+)\s*(?:\[[^\]]*\])?\s*(?:=|\{|;)")
SKIP = re.compile(r"^(?:namespace\s+\w+\s*=|using\s+(?:namespace\s+)?[\w:]+;"
                  r"|return\b|if\b|for\b|while\b|switch\b)")


def internal_names(path):
    """(named namespace, name) of the definitions with internal linkage in one source file."""
    names = set()
    stack = []  # enclosing namespaces, "" for an anonymous one
    for line in path.read_text(errors="replace").split("\n"):
        opened = OPEN.match(line)
        if opened:
            stack.append(opened.group(1))
            continue
        if CLOSE.match(line):
            if stack:
                stack.pop()
            continue
        if not line or line[0] in " \t#/{}" or SKIP.match(line):
            continue
        if "" not in stack and not line.startswith("static "):
            continue
        match = (TYPE.match(line) or ALIAS.match(line) or FUNCTION.match(line)
                 or VARIABLE.match(line))
        if match and not re.fullmatch(r"[A-Z0-9_]+", match.group(1)):  # TEST(...) and co.
            names.add(("::".join(n for n in stack if n), match.group(1)))
    return names


def main():
    build = pathlib.Path(sys.argv[1])
    batches = sorted(build.glob("**/CMakeFiles/*.dir/Unity/unity_*.cxx"))
    clashes = 0
    for batch in batches:
        sources = re.findall(r'^#include "(.+)"$', batch.read_text(), re.M)
        where = {}
        for source in sources:
            for key in internal_names(pathlib.Path(source)):
                where.setdefault(key, []).append(source)
        for (namespace, name), files in sorted(where.items()):
            if len(files) > 1:
                clashes += 1
                print(f"{batch.relative_to(build)}: {namespace}::{name} is defined with internal "
                      f"linkage in {' and '.join(files)}: rename one of them")
    print(f"unity_names: {len(batches)} batches, {clashes} clash(es)")
    return 1 if clashes else 0


if __name__ == "__main__":
    sys.exit(main())
