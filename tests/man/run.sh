#!/usr/bin/env bash
# Tests of the man pages (man/*.scd, built into BUILD_DIR/man by make):
# each renders without a groff warning, and none drifts from what it
# describes: mmapio(7)'s variables against README's table (names and
# defaults) and against preload/config.c, libmmapio(3) against the public
# functions of include/mmapio.h, mmapio-run(1) and mmapio-ab(1) against
# their --help.
#
#   tests/man/run.sh BUILD_DIR
#
# Prints "ok NAME" or "FAIL NAME: why" per case and ends with one line
# "N passed, M failed, K skipped". Exit status 1 if anything failed. ~2 s.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir BUILD_DIR "$@"
t_clean_env
export LC_ALL=C.UTF-8 # man(1) renders UTF-8 pages
t_tmpdir man

PAGES="mmapio.7 mmapio-run.1 mmapio-ab.1 libmmapio.3"

# groff's warnings for one page, as man(1) reports them (empty: none).
warnings() {
	{ MANWIDTH=80 man --warnings -l "$1" >/dev/null; } 2>&1
}

if ! command -v man >/dev/null 2>&1; then
	skip "man pages render without warnings" "man(1) is not installed (scripts/setup installs man-db)"
else
	# The check itself must see a warning where there is one.
	printf '.TH X 1\n.SH NAME\nx \\- y\n.XX not a macro\n' >"$TMP/broken.1"
	w=$(warnings "$TMP/broken.1")
	if [ -n "$w" ]; then ok "a page with an unknown macro gives a warning (the check works)"
	else fail "a page with an unknown macro gives a warning (the check works)" "no warning seen"; fi

	for p in $PAGES; do
		f=$BUILD/man/$p
		if [ ! -s "$f" ]; then
			fail "$p renders without warnings" "$f missing (make builds it from man/$p.scd)"
			continue
		fi
		w=$(warnings "$f")
		text=$(MANWIDTH=80 man -l "$f" 2>/dev/null)
		if [ -n "$w" ]; then
			fail "$p renders without warnings" "$(printf '%s' "$w" | head -5)"
		elif ! printf '%s\n' "$text" | grep -q '^NAME'; then
			fail "$p renders without warnings" "no NAME section in the rendered page"
		else
			ok "$p renders without warnings"
		fi
	done
fi

# The drift checks: one Python program, one line per case.
python3 - "$ROOT" "$BUILD" <<'PY' >"$TMP/drift" 2>&1
import os, re, subprocess, sys

root, build = sys.argv[1], sys.argv[2]


def read(p):
    with open(os.path.join(root, p), encoding="utf-8") as fh:
        return fh.read()


def report(name, problems):
    if problems:
        print("FAIL %s: %s" % (name, "; ".join(problems)))
    else:
        print("ok %s" % name)


def first_item(cell):
    """The first comma-separated item of a table cell, commas inside
    parentheses kept: '`max(1G, 2 x size)`, size' -> 'max(1G, 2 x size)'."""
    depth = 0
    for i, ch in enumerate(cell):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            cell = cell[:i]
            break
    return cell.replace("`", "").strip()


# README: the rows of the variable table.
readme = {}
for line in read("README.md").splitlines():
    m = re.match(r"^\|\s*`(MMAPIO_[A-Z0-9_]+)`\s*\|([^|]*)\|", line)
    if m:
        readme[m.group(1)] = first_item(m.group(2))

# mmapio(7): "*MMAPIO_X*=..." at the start of a line, then "\tDefault: D."
page = {}
cur = None
for line in read("man/mmapio.7.scd").splitlines():
    m = re.match(r"^\*(MMAPIO_[A-Z0-9_]+)\*=\S+$", line)
    if m:
        cur = m.group(1)
        page[cur] = None
        continue
    m = re.match(r"^\tDefault: (.*)\.$", line)
    if m and cur and page[cur] is None:
        page[cur] = re.sub(r"[*_`]", "", m.group(1)).strip()
    if not line.startswith("\t") and line.strip():
        cur = None

problems = []
if len(readme) < 10:
    problems.append("only %d variables found in README's table" % len(readme))
for v in sorted(set(readme) - set(page)):
    problems.append("%s is in README's table but not in mmapio(7)" % v)
for v in sorted(set(page) - set(readme)):
    problems.append("%s is in mmapio(7) but not in README's table" % v)
report("mmapio(7) and README's table name the same MMAPIO_* variables", problems)

problems = []
for v in sorted(set(readme) & set(page)):
    if page[v] is None:
        problems.append("%s has no 'Default:' line in mmapio(7)" % v)
    elif page[v] != readme[v]:
        problems.append("%s: default '%s' in mmapio(7), '%s' in README" % (v, page[v], readme[v]))
report("mmapio(7) and README's table give the same defaults", problems)

# The code: every variable config.c reads.
code = set(re.findall(r'"(MMAPIO_[A-Z0-9_]+)"', read("preload/config.c")))
problems = []
if len(code) < 10:
    problems.append("only %d variables found in preload/config.c" % len(code))
for v in sorted(code - set(page)):
    problems.append("%s is read by preload/config.c but not documented in mmapio(7)" % v)
for v in sorted(set(page) - code):
    problems.append("%s is documented in mmapio(7) but preload/config.c does not read it" % v)
report("mmapio(7) documents exactly the variables preload/config.c reads", problems)

# libmmapio(3): every public function of the header, by name.
header = read("include/mmapio.h")
funcs = set(re.findall(r"^MMAPIO_API\s+[^;(]*?\b(mmapio_[a-z0-9_]+)\s*\(", header, re.M))
text = read("man/libmmapio.3.scd").replace("\\_", "_")
problems = []
if len(funcs) < 20:
    problems.append("only %d public functions found in include/mmapio.h" % len(funcs))
for f in sorted(funcs):
    if not re.search(r"\b%s\b" % re.escape(f), text):
        problems.append("%s() is not in libmmapio(3)" % f)
report("libmmapio(3) names every public function of include/mmapio.h", problems)

# mmapio-run(1), mmapio-ab(1): every long option of --help.
for script in ("mmapio-run", "mmapio-ab"):
    out = subprocess.run([os.path.join(root, "scripts", script), "--help"],
                         capture_output=True, text=True).stdout
    opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", out))
    text = read("man/%s.1.scd" % script)
    problems = []
    if len(opts) < 3:
        problems.append("only %d options found in %s --help" % (len(opts), script))
    for o in sorted(opts):
        if not re.search(r"\*%s\*" % re.escape(o), text):
            problems.append("%s is in --help but not in %s(1)" % (o, script))
    report("%s(1) describes every option of --help" % script, problems)
PY
rc=$?
cat "$TMP/drift"
pass=$((pass + $(grep -c '^ok ' "$TMP/drift")))
failn=$((failn + $(grep -c '^FAIL ' "$TMP/drift")))
if [ "$rc" -ne 0 ] || ! grep -q '^ok \|^FAIL ' "$TMP/drift"; then
	fail "drift checks ran" "python3 exited $rc"
fi

t_summary
