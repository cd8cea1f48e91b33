#!/usr/bin/env python3
"""Turns criterion's results (target/criterion) into the tables of docs/performance.md.

Usage: python3 benches/report.py [target/criterion]

Prints, as Markdown: the median of every benchmark (per N), then every target with its measured
ratio and PASS/MISS. Only reads what criterion measured; prints "n/a" where a result is missing.
"""
import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
SIZES = [10_000, 100_000, 1_000_000]
BIG = 1_000_000
SMALL = 10_000


def load():
    """{(group, function, n): median ns}"""
    out = {}
    for group in sorted(os.listdir(ROOT)):
        gdir = os.path.join(ROOT, group)
        if not os.path.isdir(gdir) or group == "report":
            continue
        for function in sorted(os.listdir(gdir)):
            fdir = os.path.join(gdir, function)
            if not os.path.isdir(fdir) or function == "report":
                continue
            for n in os.listdir(fdir):
                path = os.path.join(fdir, n, "new", "estimates.json")
                if n.isdigit() and os.path.exists(path):
                    with open(path) as f:
                        out[(group, function, int(n))] = json.load(f)["median"]["point_estimate"]
    return out


def fmt(ns):
    if ns is None:
        return "n/a"
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def main():
    m = load()
    groups = sorted({g for g, _, _ in m}, key=lambda g: (not g.startswith("list"), g))
    print("## Medians\n")
    print("| group | function | " + " | ".join(f"N = {n:,}" for n in SIZES) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in SIZES) + " |")
    order = ["floor", "memory", "memory_engine", "sled", "sled_engine", "sqlite", "sled_periodic",
             "sqlite_normal", "sled_flush", "sqlite_full"]
    for g in groups:
        functions = sorted({f for gg, f, _ in m if gg == g}, key=lambda f: order.index(f) if f in order else 99)
        for f in functions:
            print(f"| {g} | {f} | " + " | ".join(fmt(m.get((g, f, n))) for n in SIZES) + " |")

    def ratio_row(name, num, den, limit, better="le"):
        if num is None or den is None:
            print(f"| {name} | n/a | {limit} | not measured |")
            return
        r = num / den
        ok = r <= limit if better == "le" else r >= limit
        sign = "≤" if better == "le" else "≥"
        print(f"| {name} | {r:.2f}× | {sign} {limit}× | {'PASS' if ok else 'MISS'} |")

    print(f"\n## Targets (N = {BIG:,} unless stated)\n")
    print("| target | measured | limit | verdict |")
    print("| --- | ---: | ---: | --- |")
    lists = [g for g in groups if g.startswith("list_")]
    for g in lists:
        ratio_row(f"memory page / floor, {g}", m.get((g, "memory", BIG)), m.get((g, "floor", BIG)), 3)
    for g in lists:
        if g.endswith("_middle"):
            ratio_row(f"SQLite / sled, {g}", m.get((g, "sqlite", BIG)), m.get((g, "sled", BIG)), 100, "ge")
        if g.endswith("_first"):
            ratio_row(f"SQLite / sled, {g}", m.get((g, "sqlite", BIG)), m.get((g, "sled", BIG)), 10, "ge")
    for store in ["memory", "sled"]:
        for g in lists:
            ratio_row(f"{store} page at 1M / at 10k, {g}", m.get((g, store, BIG)), m.get((g, store, SMALL)), 1.5)
    for n in SIZES:
        t = m.get(("take", "memory", n))
        if t is None:
            continue
        rate = 1e9 / t
        print(f"| memory take rate, N = {n:,} | {rate / 1e3:.0f}k/s | ≥ 200k/s | {'PASS' if rate >= 200e3 else 'MISS'} |")
    for n in SIZES:
        for sled, sql, what in [("sled_flush", "sqlite_full", "fsync every commit"),
                                ("sled_periodic", "sqlite_normal", "background flush")]:
            a, b = m.get(("take", sled, n)), m.get(("take", sql, n))
            if a is None or b is None:
                continue
            # "sled ≥ SQLite" in throughput: SQLite time / sled time ≥ 1.
            ratio_row(f"take throughput sled / SQLite ({what}), N = {n:,}", b, a, 1, "ge")


if __name__ == "__main__":
    main()
