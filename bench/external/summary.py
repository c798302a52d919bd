#!/usr/bin/env python3
"""Helpers of the external benchmarks (stdlib only).

  summary.py fio-facts JSON RC ARM [IOPS_LOG]
      print the timing-free facts of one fio run; append ARM's IOPS to IOPS_LOG
  summary.py row --json AB.json --program P --workload W [--warmup N]
                 [--iops-log LOG --iops-key read|write]
      one JSON line per B arm of an mmapio-ab --json result
  summary.py table ROWS.jsonl [CHECKS.txt]
      the one summary table

In the table, B/A and ref/A are time ratios: below 1 the arm is faster than
A. For wall-time rows they are the medians of the pairwise ratios (run i of
A against run i of the arm) that mmapio-ab computed; for fio rows they come
from fio's own IOPS, pair by pair: A_iops / B_iops.
"""
import argparse
import json
import statistics
import sys


# ---------------------------------------------------------------- fio-facts

def fio_facts(path, rc, arm, log):
    text = open(path, errors="replace").read()
    i = text.find("{")
    try:
        doc = json.loads(text[i:]) if i >= 0 else None
    except ValueError:
        doc = None
    print("fio exit %s" % rc)
    if doc is None:
        print("fio: no JSON output")
        return 1
    lines = []
    for j in doc.get("jobs", []):
        r, w = j.get("read", {}), j.get("write", {})
        print("job %s: read ios=%s bytes=%s, write ios=%s bytes=%s, error=%s"
              % (j.get("jobname"), r.get("total_ios"), r.get("io_bytes"), w.get("total_ios"),
                 w.get("io_bytes"), j.get("error")))
        opts = dict(doc.get("global options", {}))
        opts.update(j.get("job options", {}))
        if opts.get("verify") and opts.get("do_verify", "1") != "0":
            ok = j.get("error") == 0 and str(rc) == "0"
            print("job %s: verify %s: %s" % (j.get("jobname"), opts.get("verify"),
                                             "ok" if ok else "FAILED"))
        lines.append("%s %s %.1f %.1f\n" % (arm, j.get("jobname"), r.get("iops", 0.0),
                                            w.get("iops", 0.0)))
    if log:
        with open(log, "a") as fh:
            fh.writelines(lines)
    return 0


# ---------------------------------------------------------------- rows

def iops_series(log, key, warmup):
    """arm -> timed IOPS in run order (the first `warmup` entries dropped)."""
    col = 2 if key == "read" else 3
    series = {}
    with open(log) as fh:
        for line in fh:
            p = line.split()
            if len(p) >= 4:
                series.setdefault(p[0], []).append(float(p[col]))
    return {k: v[warmup:] for k, v in series.items()}


def arm_mode(arm):
    env = arm.get("env") or {}
    return env.get("MMAPIO_MODE", "?") + "".join(
        " %s=%s" % (k, v) for k, v in env.items() if k != "MMAPIO_MODE")


def rows(args):
    doc = json.load(open(args.json))
    arms = doc["arms"]
    a = arms[0]
    refs = [x for x in arms if x["kind"] == "ref"]
    ref = refs[0] if refs else None
    iops = iops_series(args.iops_log, args.iops_key, args.warmup) if args.iops_log else None
    out = []
    for b in (x for x in arms if x["kind"] == "B"):
        st = b.get("stats") or {}
        row = {
            "program": args.program, "workload": args.workload, "arm": arm_mode(b),
            "identical": bool(b["identical"] and doc.get("a_deterministic", True)),
            "served": st.get("served_calls"), "passthrough": st.get("passthrough_calls"),
            "decisions": sorted({"%s (%s)" % (f["decision"], f["reason"])
                                 for f in st.get("files", []) if f["served_calls"] > 0}),
            "runs": len(b["runs"]),
            "wall_a": a["median"]["wall_s"], "wall_b": b["median"]["wall_s"],
            "wall_ratio": b["ratio"]["median"],
        }
        if iops is None:
            row.update({
                "metric": "wall", "a": a["median"]["wall_s"], "b": b["median"]["wall_s"],
                "ratio": b["ratio"]["median"], "ratio_min": b["ratio"]["min"],
                "ratio_max": b["ratio"]["max"],
                "ref": ref["median"]["wall_s"] if ref else None,
                "ref_ratio": ref["ratio"]["median"] if ref else None,
            })
        else:
            mode = (b.get("env") or {}).get("MMAPIO_MODE", "auto")
            A, B = iops.get("A", []), iops.get("B:" + mode, [])
            pairs = [x / y for x, y in zip(A, B) if y > 0]
            R = iops.get("ref", [])
            rpairs = [x / y for x, y in zip(A, R) if y > 0]
            row.update({
                "metric": "%s IOPS" % args.iops_key,
                "a": statistics.median(A) if A else None,
                "b": statistics.median(B) if B else None,
                "ratio": statistics.median(pairs) if pairs else None,
                "ratio_min": min(pairs) if pairs else None,
                "ratio_max": max(pairs) if pairs else None,
                "ref": statistics.median(R) if R else None,
                "ref_ratio": statistics.median(rpairs) if rpairs else None,
            })
        out.append(row)
    for r in out:
        print(json.dumps(r))


# ---------------------------------------------------------------- table

def fmt(v, metric):
    if v is None:
        return "-"
    if metric != "wall":
        return "%.0fk" % (v / 1000) if v >= 1000 else "%.0f" % v
    if v >= 10:
        return "%.1f s" % v
    if v >= 1:
        return "%.2f s" % v
    return "%.0f ms" % (v * 1000) if v >= 0.1 else "%.1f ms" % (v * 1000)


def table(path, checks):
    rs = [json.loads(line) for line in open(path) if line.strip()]
    head = ["program", "workload", "B arm", "metric", "A", "B", "B/A [min-max]", "wall B/A",
            "same output", "ref", "ref/A", "served / passthrough"]
    body = []
    for r in rs:
        m = r["metric"]
        ratio = "-" if r["ratio"] is None else "%.2f [%.2f-%.2f]" % (
            r["ratio"], r["ratio_min"], r["ratio_max"])
        body.append([
            r["program"], r["workload"], r["arm"], "wall (median)" if m == "wall" else m,
            fmt(r["a"], m), fmt(r["b"], m), ratio,
            "-" if r.get("wall_ratio") is None else "%.2f" % r["wall_ratio"],
            "yes" if r["identical"] else "NO",
            fmt(r["ref"], m), "-" if r["ref_ratio"] is None else "%.2f" % r["ref_ratio"],
            "-" if r["served"] is None else "%d / %d" % (r["served"], r["passthrough"]),
        ])
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    print()
    print("mmapio external benchmarks: A = no shim, B = under the shim (MMAPIO_MODE given);")
    print("B/A and ref/A are time ratios (below 1: faster than A); fio rows use fio's own IOPS")
    print("(A_iops/B_iops, pair by pair), which leave out opening and closing the file; \"wall B/A\"")
    print("is the whole process, start to exit, from mmapio-ab (median of the pairwise ratios).")
    print()
    for i, line in enumerate([head] + body):
        print("  ".join(c.ljust(w[k]) if k < 4 else c.center(w[k]) if k == 8 else c.rjust(w[k])
                        for k, c in enumerate(line)).rstrip())
        if i == 0:
            print("  ".join("-" * x for x in w))
    if checks:
        try:
            lines = [x.rstrip("\n") for x in open(checks) if x.strip()]
        except OSError:
            lines = []
        if lines:
            print()
            print("checks:")
            for x in lines:
                print("  " + x)
    print()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "fio-facts":
        a = sys.argv[2:]
        if len(a) < 3:
            print("usage: summary.py fio-facts JSON RC ARM [LOG]", file=sys.stderr)
            return 2
        return fio_facts(a[0], a[1], a[2], a[3] if len(a) > 3 else "")
    if len(sys.argv) > 1 and sys.argv[1] == "table":
        if len(sys.argv) < 3:
            print("usage: summary.py table ROWS [CHECKS]", file=sys.stderr)
            return 2
        table(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
        return 0
    ap = argparse.ArgumentParser(prog="summary.py row")
    ap.add_argument("cmd", choices=["row"])
    ap.add_argument("--json", required=True)
    ap.add_argument("--program", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iops-log")
    ap.add_argument("--iops-key", choices=["read", "write"], default="read")
    rows(ap.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
