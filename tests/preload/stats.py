#!/usr/bin/env python3
"""Check and summarise an MMAPIO_STATS JSON Lines file (one object per process).

usage: stats.py STATS_FILE [NAME ...]

Prints one line and exits 0:
  ok lines=N served=S passthrough=P bytes=B faults=F [NAME=decision:served ...]
for each NAME (a file's base name), the decisions seen for files whose path
ends with that name and the sum of their served_calls ("absent:0" if no entry).
Prints "missing" (exit 2) when the file does not exist or is empty, and
"bad REASON" (exit 1) when a line is not a well-formed stats object, or
when its files' counts do not add up to its totals (every call the shim
counts is counted for some file).
"""
import json
import os
import sys

TOP = {"pid": int, "mode": str, "served_calls": int, "passthrough_calls": int,
       "bytes_served": int, "faults_recovered": int, "files": list}
PER_FILE = {"path": str, "decision": str, "reason": str, "served_calls": int,
            "passthrough_calls": int, "bytes_served": int}


def main():
    path, names = sys.argv[1], sys.argv[2:]
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        print("missing")
        return 2
    tot = {"served_calls": 0, "passthrough_calls": 0, "bytes_served": 0, "faults_recovered": 0}
    per_name = {n: [set(), 0] for n in names}
    lines = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                print(f"bad line {i} is not JSON ({e}): {line.strip()[:120]}")
                return 1
            if not isinstance(obj, dict):
                print(f"bad line {i} is not an object")
                return 1
            for k, t in TOP.items():
                if not isinstance(obj.get(k), t) or isinstance(obj.get(k), bool):
                    print(f"bad line {i}: key {k!r} missing or not {t.__name__}")
                    return 1
            for k in tot:
                if obj[k] < 0:
                    print(f"bad line {i}: {k} is negative")
                    return 1
                tot[k] += obj[k]
            sums = {"served_calls": 0, "passthrough_calls": 0, "bytes_served": 0}
            for j, fe in enumerate(obj["files"]):
                if not isinstance(fe, dict):
                    print(f"bad line {i}: files[{j}] is not an object")
                    return 1
                for k, t in PER_FILE.items():
                    if not isinstance(fe.get(k), t) or isinstance(fe.get(k), bool):
                        print(f"bad line {i}: files[{j}].{k} missing or not {t.__name__}")
                        return 1
                if fe["decision"] not in ("map", "kernel"):
                    print(f"bad line {i}: files[{j}].decision is {fe['decision']!r}")
                    return 1
                hist = fe.get("history", [])
                if not isinstance(hist, list) or any(
                        h.get("decision") not in ("map", "kernel") for h in hist):
                    print(f"bad line {i}: files[{j}].history is not a list of decisions")
                    return 1
                if hist and (hist[-1]["decision"], hist[-1]["reason"]) != (fe["decision"],
                                                                          fe["reason"]):
                    print(f"bad line {i}: files[{j}]: the last decision of its history is "
                          f"not its decision")
                    return 1
                for k in sums:
                    sums[k] += fe[k]
                for n in names:
                    p = fe["path"]
                    if p == n or p.endswith("/" + n):
                        per_name[n][0].add(fe["decision"])
                        per_name[n][1] += fe["served_calls"]
            for k, v in sums.items():
                if v != obj[k]:
                    print(f"bad line {i}: its files add up to {k}={v}, its total is {obj[k]}")
                    return 1
            lines += 1
    out = (f"ok lines={lines} served={tot['served_calls']} passthrough={tot['passthrough_calls']} "
           f"bytes={tot['bytes_served']} faults={tot['faults_recovered']}")
    for n in names:
        dec, served = per_name[n]
        out += f" {n}={'+'.join(sorted(dec)) or 'absent'}:{served}"
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
