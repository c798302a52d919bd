#!/usr/bin/env python3
"""ltp-compare.py TMP NAME: compare one LTP entry's logs in TMP/{none,always,auto}/NAME.log.

Prints a one-line summary and exits 0 when the shim arms report what the run
without the shim reported (the result counts and every TPASS/TFAIL/TBROK/TWARN
line, with times, pids and temporary paths taken out), 1 otherwise. The
calls served from the map (the always arm's stats) are part of the summary:
an entry whose files the shim never served proves less. Stats whose files
do not add up to their totals make the entry fail.
"""
import os
import re
import subprocess
import sys

KINDS = ("passed", "failed", "broken", "skipped", "warnings")
TAGS = {"passed": "TPASS", "failed": "TFAIL", "broken": "TBROK", "skipped": "TCONF",
        "warnings": "TWARN"}


def normal(line):
    """A result line without what differs from run to run: times, pids
    (also in file names the tests make: tfile_11162), addresses, inode
    numbers, timestamps."""
    line = re.sub(r"/\S*/scratch/\S+", "TMP", line)
    line = re.sub(r"LTP_\w+", "LTP_X", line)
    line = re.sub(r"\b\d+(\.\d+)?\s*(ns|us|ms|s|sec|seconds|usec)\b", "T", line)
    line = re.sub(r"(?i)\bpid[ =:]*\d+", "pid N", line)
    line = re.sub(r"\b0x[0-9a-f]{6,}\b", "ADDR", line)
    line = re.sub(r"\b1\d{9}\b", "EPOCH", line)  # a time in seconds (2001-2033)
    line = re.sub(r"([A-Za-z0-9])_\d{3,}\b", r"\1_N", line)
    if re.search(r"pid|ino", line):
        line = re.sub(r"\b\d{4,}\b", "N", line)
    return line


def parse(path):
    """(counts, sorted result lines) of one log."""
    with open(path, errors="replace") as f:
        text = f.read()
    counts = {}
    for k in KINDS:  # the summary of the new library ...
        found = re.findall(r"^%s\s+(\d+)\s*$" % k, text, re.M)
        if found:
            counts[k] = sum(int(x) for x in found)
    if not counts:  # ... or the old one's tags
        counts = {k: len(re.findall(r"\b%s\b" % t, text)) for k, t in TAGS.items()}
    lines = sorted(normal(l) for l in text.splitlines()
                   if re.search(r"\bT(PASS|FAIL|BROK|WARN)\b", l))
    return counts, lines


STATS_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "preload", "stats.py")


def served(path):
    """Calls served in a stats file (tests/preload/stats.py, which also checks
    that every line's files add up to its totals): a count, 0 without
    stats, or stats.py's complaint as a string."""
    out = subprocess.run([sys.executable, STATS_PY, path], capture_output=True,
                         text=True).stdout.strip()
    if out == "missing":
        return 0
    found = re.search(r" served=(\d+)", out)
    return int(found.group(1)) if out.startswith("ok") and found else out


def main():
    tmp, name = sys.argv[1], sys.argv[2]
    base = parse(os.path.join(tmp, "none", name + ".log"))
    bad = []
    for arm in ("always", "auto"):
        other = parse(os.path.join(tmp, arm, name + ".log"))
        if other[0] != base[0]:
            bad.append("%s: %s, without the shim %s" % (arm, other[0], base[0]))
        elif other[1] != base[1]:
            diff = sorted(set(other[1]) ^ set(base[1]))[:2]
            bad.append("%s: result lines differ: %s" % (arm, " | ".join(diff)))
    n = served(os.path.join(tmp, "always", name + ".stats"))
    if isinstance(n, str):
        bad.append("stats of the always arm: " + n)
    got = ", ".join("%s %d" % (k, v) for k, v in base[0].items() if v)
    if bad:
        print("; ".join(bad))
        return 1
    print("%s; always served %d calls" % (got or "no results", n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
