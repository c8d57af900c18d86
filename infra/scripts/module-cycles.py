#!/usr/bin/env python3
"""Finds import circles between the files of Rust crates.

Usage: module-cycles.py CRATE_SRC_DIR...

Each .rs file is a module; a file depends on the modules its `crate::`,
`super::` and `self::` paths name, and paths that start at a child module
it declares, (in `use` lines and in code), resolved to
the deepest file that exists. `mod x;` declarations are not dependencies.
Test modules (`#[cfg(test)]` to the end of the file) are left out: they may
reach back into their parent. Prints each circle and exits 1 if any.
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"(?<!\$)\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"(?<!\$)\b(crate|super|self)::((?:[A-Za-z_][A-Za-z0-9_]*::)*)\{([^;]*?)\}", re.S)


def module_path(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts.pop()
    return tuple(parts)


def references(text: str):
    """(anchor, [segments]) for every path, group members expanded."""
    for m in GROUP.finditer(text):
        prefix = [s for s in m.group(2).split("::") if s]
        for member in m.group(3).split(","):
            member = member.strip().split(" as ")[0].strip()
            if member and member != "self":
                yield m.group(1), prefix + [s for s in member.split("::") if s and s != "{"]
            elif member == "self":
                yield m.group(1), prefix
    for m in PATH.finditer(GROUP.sub("", text)):
        yield m.group(1), [s for s in m.group(2).split("::") if s]


def main() -> int:
    circles = 0
    for src in map(Path, sys.argv[1:]):
        files = sorted(src.rglob("*.rs"))
        modules = {module_path(src, f): f for f in files}
        graph = {}
        for f in files:
            here = module_path(src, f)
            text = f.read_text()
            text = text.split("#[cfg(test)]\nmod tests")[0]
            text = re.sub(r"//.*", "", text)
            deps = set()
            # A path may also start at a child module this file declares.
            children = re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M)
            child_refs = [
                ("self", [m.group(1)] + [x for x in m.group(2).split("::") if x])
                for name in children
                for m in re.finditer(rf"(?<![:\w])({name})((?:::[A-Za-z_]\w*)+)", text)
            ]
            for anchor, segments in list(references(text)) + child_refs:
                # `super` is the parent of this file's module, `self` the module.
                base = {"crate": (), "super": here[:-1], "self": here}[anchor]
                rest = list(segments)
                while rest and rest[0] == "super":
                    rest = rest[1:]
                    base = base[:-1]
                path = base + tuple(rest)
                while path not in modules and path:
                    path = path[:-1]
                if path in modules and path != here:
                    deps.add(path)
            graph[here] = deps
        for cycle in strongly_connected(graph):
            circles += 1
            names = sorted(str(modules[m].relative_to(src.parent)) for m in cycle)
            print(f"circle: {' <-> '.join(names)}")
        print(f"{src}: {len(files)} files, {sum(len(d) for d in graph.values())} dependencies")
    print(f"{circles} circles")
    return 1 if circles else 0


def strongly_connected(graph: dict):
    """Tarjan's algorithm; yields components of more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return found


if __name__ == "__main__":
    sys.exit(main())
