#!/usr/bin/env bash
# tests/packaging/run.sh's second half, run by it in a private mount
# namespace (unshare -m): overlays over /usr, /etc and /var take every change
# dpkg makes, so the packages are installed for real, at their real paths,
# and the machine outside the namespace does not change.
#   inside.sh TMP ROOT BUILD MULTIARCH VERSION VERSION_NUMBER DEB...
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why" lines.
set -u
TMP=$1 ROOT=$2 BUILD=$3 MA=$4 VERSION=$5 NUMBER=$6
shift 6
L=/usr/lib/$MA
# result STATUS NAME WHY: ok when STATUS (the condition's $?) is 0, else
# FAIL. (The status is passed in: the command substitutions of WHY would
# set $? before a function could read it.)
result() {
	local st=$1
	shift
	if [ "$st" -eq 0 ]; then echo "ok $1"; else echo "FAIL $1: $2"; fi
}

for d in usr etc var; do
	mkdir -p "$TMP/ov/$d/up" "$TMP/ov/$d/work"
	if ! mount -t overlay overlay \
		-o "lowerdir=/$d,upperdir=$TMP/ov/$d/up,workdir=$TMP/ov/$d/work" "/$d" 2>"$TMP/mount.err"; then
		echo "skip dpkg -i in a private mount namespace: overlayfs on /$d: $(cat "$TMP/mount.err")"
		exit 0
	fi
done
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin DEBIAN_FRONTEND=noninteractive
cd "$TMP" || exit 1

dpkg -i "$@" >"$TMP/dpkg-i.out" 2>&1
rc=$?
[ "$rc" -eq 0 ]
st=$?
result "$st" "dpkg -i libmmapio0 libmmapio-dev mmapio (dependencies met, triggers run)" \
	"exit $rc: $(tail -5 "$TMP/dpkg-i.out")"
[ "$rc" -eq 0 ] || exit 0

run=$(command -v mmapio-run)
mmapio-run --mode always --stats -- cat data.bin 2>"$TMP/run.err" | cmp -s - data.bin
rc=$?
# shellcheck disable=SC2016 # the child's LD_PRELOAD, expanded by the child
seen=$(mmapio-run -- sh -c 'printf %s "$LD_PRELOAD"' 2>&1)
served=$(sed -n 's/.*stats: \([0-9]*\) served calls.*/\1/p' "$TMP/run.err")
[ "$run" = /usr/bin/mmapio-run ] && [ "$rc" -eq 0 ] && [ "$seen" = "$L/libmmapio_preload.so" ] &&
	[ "${served:-0}" -gt 0 ]
st=$?
result "$st" "installed: $run -- cat FILE finds the shim in $L and serves it" \
	"cmp $rc, LD_PRELOAD '$seen', served '$served': $(head -3 "$TMP/run.err")"

mmapio-ab --runs 2 --mode always -- cat data.bin >"$TMP/ab.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q "library $L/libmmapio_preload.so" "$TMP/ab.out" &&
	grep -q "outputs: IDENTICAL" "$TMP/ab.out" &&
	grep -qE "shim stats, B .*: [1-9][0-9]* calls served" "$TMP/ab.out"
st=$?
result "$st" "installed: mmapio-ab from /usr/bin finds the shim, outputs identical, calls served" \
	"exit $rc: $(head -12 "$TMP/ab.out")"

# The package's shim (built with Debian's hardening flags) under the
# differential programs.
PRELOAD_TEST_PRELOAD=$L/libmmapio_preload.so "$ROOT/tests/preload/run.sh" "$BUILD" \
	>"$TMP/preload.out" 2>&1
rc=$?
[ "$rc" -eq 0 ]
st=$?
result "$st" "installed shim passes tests/preload ($(tail -1 "$TMP/preload.out"))" \
	"exit $rc: $(grep -E '^FAIL' "$TMP/preload.out" | head -5)"

mv=$(pkg-config --modversion mmapio 2>&1)
read -ra cflags <<<"$(pkg-config --cflags mmapio)"
read -ra libs <<<"$(pkg-config --libs mmapio)"
cc ${cflags[@]+"${cflags[@]}"} example.c -o example "${libs[@]}" 2>"$TMP/cc.err"
rc=$?
out=$(./example 2>&1)
so=$(ldd ./example | sed -n 's/^[[:space:]]*libmmapio\.so\.0 => \([^ ]*\).*/\1/p')
# /lib is /usr/lib on a merged-/usr system: compare the files themselves.
if [ -n "$so" ] && [ "$(readlink -f "$so")" = "$(readlink -f "$L/libmmapio.so.0")" ]; then
	so=$L/libmmapio.so.0
fi
[ "$mv" = "$VERSION" ] && [ "$rc" -eq 0 ] && [ "$out" = "4096 bytes, library $NUMBER" ] &&
	[ "$so" = "$L/libmmapio.so.0" ]
st=$?
result "$st" "libmmapio-dev: libmmapio(3)'s example builds with pkg-config and runs on $L/libmmapio.so.0" \
	"pkg-config $mv; cc $rc: $(head -3 "$TMP/cc.err"); output '$out'; libmmapio.so.0 => '$so'"

cc ${cflags[@]+"${cflags[@]}"} example.c -o example-static \
	"$(pkg-config --variable=libdir mmapio)/libmmapio.a" -pthread 2>"$TMP/cc.err"
rc=$?
out=$(./example-static 2>&1)
[ "$rc" -eq 0 ] && [ "$out" = "4096 bytes, library $NUMBER" ] && ! ldd ./example-static | grep -q libmmapio
st=$?
result "$st" "libmmapio-dev: the example links with libmmapio.a" \
	"cc $rc: $(head -3 "$TMP/cc.err"); output '$out'"

bad=""
for p in 7:mmapio 1:mmapio-run 1:mmapio-ab 3:libmmapio; do
	sec=${p%%:*} name=${p#*:}
	f=$(man -w "$sec" "$name" 2>&1)
	w=$({ MANWIDTH=80 man --warnings "$sec" "$name" >"$TMP/page.txt"; } 2>&1)
	[ "$f" = "/usr/share/man/man$sec/$name.$sec.gz" ] || bad="$bad $name: found at '$f';"
	[ -z "$w" ] || bad="$bad $name: $w;"
	grep -q '^NAME' "$TMP/page.txt" || bad="$bad $name: no NAME;"
done
[ -z "$bad" ]
st=$?
result "$st" "installed man pages: man finds each and renders it without warnings" "$bad"

dpkg --purge mmapio libmmapio-dev libmmapio0 >"$TMP/purge.out" 2>&1
rc=$?
left=$(ls /usr/bin/mmapio-run /usr/bin/mmapio-ab /usr/include/mmapio.h "$L"/libmmapio* \
	"$L/pkgconfig/mmapio.pc" /usr/share/man/man7/mmapio.7.gz 2>/dev/null)
[ "$rc" -eq 0 ] && [ -z "$left" ] && ! dpkg -s mmapio >/dev/null 2>&1
st=$?
result "$st" "dpkg --purge removes every file" "exit $rc, left: $left $(tail -3 "$TMP/purge.out")"
