#!/usr/bin/env python3
"""Deterministic text data for the external benchmarks (stdlib only).

  gen_text.py big PATH MIB          one text file of about MIB MiB; the line
                                    "needle-N marker" appears once per 4 MiB
  gen_text.py tree DIR NFILES       NFILES small text files (1-16 KiB) in
                                    subdirectories of 100; every 7th file
                                    holds one needle line
Same arguments, same bytes: the outputs of the programs searching them are
the same from run to run.
"""
import os
import random
import sys

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
         "omicron pi rho sigma tau upsilon phi chi psi omega map page fault read write "
         "offset buffer kernel cache inode vector thread mutex atomic shadow reserve "
         "flush sync range extent block sector queue latency throughput").split()


def chunk(rng, size):
    out = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        line = "%d: %s\n" % (rng.randint(0, 10 ** 6), line)
        out.append(line)
        n += len(line)
    return "".join(out).encode()


def big(path, mib):
    rng = random.Random(12345)
    base = [chunk(rng, 1 << 20) for _ in range(4)]  # 4 distinct MiB, reused
    with open(path + ".tmp", "wb") as fh:
        for i in range(max(1, mib // 4)):
            for j, b in enumerate(base):
                fh.write(b)
            fh.write(b"needle-%d marker\n" % i)
    os.replace(path + ".tmp", path)


def tree(d, nfiles):
    rng = random.Random(54321)
    pool = chunk(rng, 1 << 20)
    for i in range(nfiles):
        sub = os.path.join(d, "d%03d" % (i // 100))
        os.makedirs(sub, exist_ok=True)
        size = rng.randint(1 << 10, 16 << 10)
        start = rng.randint(0, len(pool) - size)
        data = pool[start:start + size]
        if i % 7 == 0:
            data += b"needle-%d marker\n" % i
        with open(os.path.join(sub, "f%05d.txt" % i), "wb") as fh:
            fh.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("big", "tree"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "big":
        big(sys.argv[2], int(sys.argv[3]))
    else:
        tree(sys.argv[2], int(sys.argv[3]))
