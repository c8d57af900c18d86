#!/usr/bin/env python3
"""The table `make bench` prints: every figure of issue #15 against its goal.

    bench-table.py LOG [--write docs/BENCHMARKS.md]

LOG holds the benches' `figure<TAB>KEY<TAB>VALUE` lines (benches/*.rs,
infra/scripts/bench.sh, the cold-start harness). With --write, the table
also replaces what lies between the `make bench` markers of that file.
"""

import datetime
import re
import sys

BEGIN = "<!-- make bench: begin -->"
END = "<!-- make bench: end -->"
SIZES = (1, 10000, 100000)


def read_figures(path):
    figures = {}
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[0] == "figure":
                try:
                    figures[parts[1]] = float(parts[2])
                except ValueError:
                    pass
    return figures


def spaced(value, decimals=0):
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ")


def rows(figures):
    """(figure, measured, unit, goal text, goal value, at least?) per row."""
    out = []
    goals = {"companies": 10000, "access": 20000}
    paths = {"companies": "`GET /v1/companies/{c}`", "access": "`GET /v1/access`"}
    for name, floor in goals.items():
        one = figures.get(f"http.{name}.1")
        for size in SIZES:
            label = f"{paths[name]}, {spaced(size)} member{'s' if size > 1 else ''}"
            value = figures.get(f"http.{name}.{size}")
            out.append((label, value, "req/s", f"≥ {spaced(floor)}", floor, True))
            if size > 1 and one:
                out.append((f"{label}, vs 1 member", value, "req/s", "≥ 1 member ÷ 1.5", one / 1.5, True))
    out.append(("expiry check, 100 000 members, 1 000 due", figures.get("expiry.ms"), "ms", "≤ 80", 80, False))
    out.append(("import confirm, 100 000 rows", figures.get("import.confirm_s"), "s", "≤ 3.0", 3.0, False))
    out.append(("CSV preview, 100 000 rows vs 100 000 members", figures.get("import.preview_mbps"), "MB/s", "≥ 50", 50, True))
    out.append(("import (preview) peak RSS, fresh process", figures.get("import.peak_mib"), "MiB", "≤ 64", 64, False))
    for key in sorted(k for k in figures if k.startswith("size.")):
        out.append((f"`{key[5:]}` bootstrap, arm64, stripped", figures[key], "MiB", "≤ 8", 8, False))
    bare = figures.get("coldstart.init.bare")
    for key in sorted(k for k in figures if k.startswith("coldstart.init.")):
        name = key[len("coldstart.init."):]
        if name == "bare":
            out.append(("init, bare `lambda_runtime` binary", figures[key], "ms", "(anchor)", None, False))
            continue
        goal = bare * 1.3 if bare else None
        out.append((f"init, `{name}` (start → first `/next`)", figures[key], "ms", "≤ 1.3 × bare", goal, False))
        first = figures.get(f"coldstart.first.{name}")
        if first is not None:
            out.append((f"first invoke, `{name}`", first, "ms", "—", None, False))
    return out


def table(figures):
    lines = ["| figure | measured | goal | ratio | met |", "|---|---:|---|---:|---|"]
    for label, value, unit, goal_text, goal, at_least in rows(figures):
        if value is None:
            lines.append(f"| {label} | not measured | {goal_text} {unit} | — | — |")
            continue
        decimals = 0 if value >= 100 else (1 if value >= 10 else 2)
        measured = f"{spaced(value, decimals)} {unit}"
        if goal is None or goal == 0:
            lines.append(f"| {label} | {measured} | {goal_text} | — | — |")
            continue
        ratio = value / goal
        met = ratio >= 1 if at_least else ratio <= 1
        goal_shown = goal_text if "×" not in goal_text and "÷" not in goal_text else f"{goal_text} = {spaced(goal, 1)}"
        lines.append(f"| {label} | {measured} | {goal_shown} {unit} | {ratio:.2f} | {'met' if met else '**not met**'} |")
    return "\n".join(lines)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    text = table(read_figures(args[0]))
    print(text)
    if len(args) == 3 and args[1] == "--write":
        path = args[2]
        with open(path, encoding="utf-8") as f:
            doc = f.read()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        block = f"{BEGIN}\nLast `make bench`, {stamp}:\n\n{text}\n{END}"
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        if not pattern.search(doc):
            sys.exit(f"{path} has no `{BEGIN}` … `{END}` markers")
        with open(path, "w", encoding="utf-8") as f:
            f.write(pattern.sub(lambda _: block, doc))


if __name__ == "__main__":
    main()
