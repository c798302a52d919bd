#!/usr/bin/env bash
# Tests of the Debian packages (debian/, make deb): they build from a copy
# of the checkout with lintian clean (scripts/build-deb), hold the files
# they should, and work once installed:
#
#   - installed for real with dpkg -i, in a private mount namespace whose
#     /usr, /etc and /var are overlays over the machine's (so dpkg, its
#     triggers and the programs see the real paths, and the machine itself
#     is not changed): mmapio-run and mmapio-ab from /usr/bin find the shim
#     in /usr/lib/<multiarch>, the shim passes the differential suite, a
#     program builds against libmmapio-dev with pkg-config and runs, the man
#     pages render, and dpkg --purge removes everything;
#   - extracted with dpkg -x into a scratch root: the scripts find the shim
#     relative to themselves.
#
# The namespace needs root and overlayfs; without them those cases are
# skipped (the scratch-root cases still run).
#
#   tests/packaging/run.sh BUILD_DIR
#
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why" per case and ends
# with "N passed, M failed, K skipped". About a minute on 2 cores.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir BUILD_DIR "$@"
t_clean_env
export LC_ALL=C.UTF-8 # man(1) renders UTF-8 pages
unset MMAPIO_LIB
# Under /tmp, never under /usr, /etc or /var, which the namespace overlays.
TMPDIR=/tmp t_tmpdir packaging-tests
finish() {
	t_summary
	exit
}

for tool in dpkg-buildpackage dh lintian fakeroot dpkg-architecture; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		skip "packages" "$tool is not installed (scripts/setup installs the packaging tools)"
		finish
	fi
done
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
VERSION=$(sed -n 's/^#define MMAPIO_VERSION_\(MAJOR\|MINOR\|PATCH\) *\([0-9]*\).*/\2/p' \
	"$ROOT/include/mmapio.h" | paste -sd.)
NUMBER=$(echo "$VERSION" | awk -F. '{print $1 * 10000 + $2 * 100 + $3}')

# ---------------------------------------------------------------- build

t0=$(date +%s)
"$ROOT/scripts/build-deb" "$TMP/deb" >"$TMP/build-deb.out" 2>&1
rc=$?
t1=$(date +%s)
if [ "$rc" -ne 0 ]; then
	fail "make deb builds the packages, lintian clean" "exit $rc: $(tail -15 "$TMP/build-deb.out")"
	finish
fi
ok "make deb builds the packages, lintian clean ($((t1 - t0)) s; overrides: $(grep -c '^O: ' "$TMP/deb/lintian.txt"))"
LIB=$TMP/deb/libmmapio0_${VERSION}_$ARCH.deb
DEV=$TMP/deb/libmmapio-dev_${VERSION}_$ARCH.deb
RUNPKG=$TMP/deb/mmapio_${VERSION}_$ARCH.deb

cl=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -SVersion)
if [ "$cl" = "$VERSION" ] && [ -f "$LIB" ] && [ -f "$DEV" ] && [ -f "$RUNPKG" ]; then
	ok "one version: header, debian/changelog and the .deb files say $VERSION"
else
	fail "one version: header, debian/changelog and the .deb files say $VERSION" \
		"changelog $cl; built: $(cd "$TMP/deb" && echo ./*.deb)"
	finish
fi

# Every file (not directory) of each package, docs and overrides aside.
contents() {
	dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' |
		grep -v -e '^/usr/share/doc/' -e '^/usr/share/lintian/' | sort | tr '\n' ' '
}
L=/usr/lib/$MA
expect_lib="$L/libmmapio.so.0 $L/libmmapio.so.$VERSION "
expect_dev="/usr/include/mmapio.h $L/libmmapio.a $L/libmmapio.so $L/pkgconfig/mmapio.pc /usr/share/man/man3/libmmapio.3.gz "
expect_run="/usr/bin/mmapio-ab /usr/bin/mmapio-run $L/libmmapio_preload.so /usr/share/man/man1/mmapio-ab.1.gz /usr/share/man/man1/mmapio-run.1.gz /usr/share/man/man7/mmapio.7.gz "
bad=""
[ "$(contents "$LIB")" = "$expect_lib" ] || bad="$bad libmmapio0: $(contents "$LIB");"
[ "$(contents "$DEV")" = "$expect_dev" ] || bad="$bad libmmapio-dev: $(contents "$DEV");"
[ "$(contents "$RUNPKG")" = "$expect_run" ] || bad="$bad mmapio: $(contents "$RUNPKG");"
if [ -z "$bad" ]; then ok "each package holds its files (shim and libraries in $L)"
else fail "each package holds its files (shim and libraries in $L)" "$bad"; fi

head -c 3145728 /dev/urandom >"$TMP/data.bin" # 3 MiB
# The example of libmmapio(3), as a user would copy it.
sed -n '/^# EXAMPLE/,/^# SEE ALSO/p' "$ROOT/man/libmmapio.3.scd" | sed '1,/^```$/d; /^```$/,$d' |
	sed 's/\\\\/\\/g' >"$TMP/example.c"

# ---------------------------------------------------------------- scratch root

SR=$TMP/scratch
mkdir -p "$SR"
for d in "$LIB" "$DEV" "$RUNPKG"; do dpkg -x "$d" "$SR"; done
(cd "$TMP" && "$SR/usr/bin/mmapio-run" --mode always --stats -- cat data.bin 2>"$TMP/sr.err" |
	cmp -s - data.bin)
rc=$?
# shellcheck disable=SC2016 # the child's LD_PRELOAD, expanded by the child
seen=$(cd "$TMP" && "$SR/usr/bin/mmapio-run" -- sh -c 'printf %s "$LD_PRELOAD"' 2>&1)
served=$(sed -n 's/.*stats: \([0-9]*\) served calls.*/\1/p' "$TMP/sr.err")
if [ "$rc" -eq 0 ] && [ "$seen" = "$SR$L/libmmapio_preload.so" ] && [ "${served:-0}" -gt 0 ]; then
	ok "dpkg -x into a scratch root: mmapio-run finds the shim beside itself (../lib/$MA)"
else
	fail "dpkg -x into a scratch root: mmapio-run finds the shim beside itself (../lib/$MA)" \
		"cmp $rc, LD_PRELOAD '$seen', served '$served': $(head -3 "$TMP/sr.err")"
fi
(cd "$TMP" && "$SR/usr/bin/mmapio-ab" --runs 2 --mode always -- cat data.bin >"$TMP/sr-ab.out" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && grep -q "library $SR$L/libmmapio_preload.so" "$TMP/sr-ab.out" &&
	grep -q "outputs: IDENTICAL" "$TMP/sr-ab.out"; then
	ok "dpkg -x into a scratch root: mmapio-ab finds the shim beside itself"
else
	fail "dpkg -x into a scratch root: mmapio-ab finds the shim beside itself" "exit $rc: $(head -5 "$TMP/sr-ab.out")"
fi

# ---------------------------------------------------------------- installed for real

if [ "$(id -u)" -ne 0 ]; then
	skip "dpkg -i in a private mount namespace" "needs root"
	finish
fi
if ! unshare -m --propagation private true 2>/dev/null; then
	skip "dpkg -i in a private mount namespace" "unshare -m is not permitted here"
	finish
fi
before=$(ls /usr/bin/mmapio-run "$L/libmmapio_preload.so" "$L/libmmapio.so.0" 2>/dev/null)


t0=$(date +%s)
unshare -m --propagation private bash "$HERE/inside.sh" "$TMP" "$ROOT" "$BUILD" "$MA" "$VERSION" \
	"$NUMBER" "$LIB" "$DEV" "$RUNPKG" >"$TMP/inside.out" 2>&1
rc=$?
t1=$(date +%s)
cat "$TMP/inside.out"
pass=$((pass + $(grep -c '^ok ' "$TMP/inside.out")))
failn=$((failn + $(grep -c '^FAIL ' "$TMP/inside.out")))
skipn=$((skipn + $(grep -c '^skip ' "$TMP/inside.out")))
if [ "$rc" -ne 0 ]; then
	fail "the namespace script ran to its end" "exit $rc"
fi
echo "(installed for real in $((t1 - t0)) s)"

after=$(ls /usr/bin/mmapio-run "$L/libmmapio_preload.so" "$L/libmmapio.so.0" 2>/dev/null)
if [ "$after" = "$before" ] && ! findmnt -rn /usr 2>/dev/null | grep -q "$TMP"; then
	ok "the machine is as it was (no package file outside the namespace, no mount left)"
else
	fail "the machine is as it was (no package file outside the namespace, no mount left)" \
		"before: '$before', after: '$after'"
fi
finish
