#!/usr/bin/env bash
# Tests of the build itself (Makefile), on a copy of the checkout in a
# temporary directory (the checkout's files and build directory are not
# touched): a warning-free build; per-object header dependencies (touching
# a header rebuilds what includes it, and nothing else); one version for the
# header, the soname, mmapio.pc, mmapio_version() and debian/; make install
# with another PREFIX, and make uninstall; the exported symbols.
#
#   tests/make/run.sh BUILD_DIR
#
# BUILD_DIR is not used (the copy has its own); the argument keeps the
# interface of the other runners. Prints "ok NAME" or "FAIL NAME: why" per
# case and ends with "N passed, M failed, K skipped". About 20 s on 2 cores.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
t_build_dir BUILD_DIR "$@"
t_clean_env
unset MMAPIO_LIB PREFIX LIBDIR INCDIR BINDIR MANDIR DESTDIR CFLAGS CPPFLAGS LDFLAGS
t_tmpdir build-tests

# result STATUS NAME WHY: ok when STATUS (the condition's $?) is 0, else
# FAIL. (The status is passed in: the command substitutions of WHY would
# set $? before a function could read it.)
result() {
	local st=$1
	shift
	if [ "$st" -eq 0 ]; then ok "$1"; else fail "$1" "$2"; fi
}
finish() {
	t_summary
	exit
}

# The copy: what a clean checkout holds (the files git knows), or everything
# but the build directories.
SRC=$TMP/src
mkdir "$SRC"
"$ROOT/scripts/copy-checkout" "$SRC" || exit 2
cd "$SRC" || exit 2
M() { make --no-print-directory B=b "$@"; }

M -j"$(nproc)" all >"$TMP/build.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] && ! grep -q 'warning:' "$TMP/build.log"
st=$?
result "$st" "make all builds without a compiler warning (-Wall -Wextra)" \
	"exit $rc: $(grep -m5 -e 'warning:' -e 'error' "$TMP/build.log")"
[ "$rc" -eq 0 ] || finish

M -q all
rc=$?
[ "$rc" -eq 0 ]
st=$?
result "$st" "a second make has nothing to do" "make -q all exited $rc: $(M -n all | head -5)"

# The outputs make would rebuild after touching $1: compile and link
# commands, by their -o target.
rebuilt() {
	sleep 1
	touch "$1"
	M -n all | sed -n 's/^cc .* -o \([^ ]*\).*/\1/p' | sort | tr '\n' ' '
	M all >/dev/null 2>&1
}
# The outputs that must: each object or one-source program whose source
# includes the header $1 (by name, as "NAME"), as the build names them.
including() {
	local h=$1 f base
	shift
	grep -l "#include \"$(basename "$h")\"" "$@" 2>/dev/null | while IFS= read -r f; do
		base=$(basename "$f" .c)
		case $f in
		tests/core/*) echo "b/tests/$base"
			case $base in test_fault | test_io | test_copy) echo "b/tests/$base.portable" ;; esac ;;
		tests/preload/*) echo "b/tests/preload/$base" "b/tests/preload/$base.fortify" ;;
		bench/*) echo "b/bench/$base" ;;
		core/*) echo "b/obj/core/$base.o" "b/obj-portable/core/$base.o" "b/obj-pre/core/$base.o" ;;
		preload/*) echo "b/obj-pre/preload/$base.o" ;;
		esac
	done | tr ' ' '\n' | sort | tr '\n' ' '
}

got=$(rebuilt tests/core/tutil.h)
want=$(including tests/core/tutil.h tests/core/*.c)
[ -n "$want" ] && [ "$got" = "$want" ]
st=$?
result "$st" "touching tests/core/tutil.h rebuilds exactly the core tests that include it" \
	"rebuilt: '$got'; expected: '$want'"

got=$(rebuilt preload/parse.h | tr ' ' '\n' | grep '\.o$' | tr '\n' ' ')
want=$(including preload/parse.h preload/*.c)
[ -n "$want" ] && [ "$got" = "$want" ]
st=$?
result "$st" "touching preload/parse.h recompiles exactly the shim's objects that include it" \
	"recompiled: '$got'; expected: '$want'"

got=$(rebuilt bench/common.h)
want=$(including bench/common.h bench/*.c)
[ -n "$want" ] && [ "$got" = "$want" ]
st=$?
result "$st" "touching bench/common.h rebuilds exactly the benches that include it" \
	"rebuilt: '$got'; expected: '$want'"

# One version.
ver() { sed -n "s/^#define MMAPIO_VERSION_$1 *\\([0-9]*\\).*/\\1/p" include/mmapio.h; }
MAJOR=$(ver MAJOR) VERSION=$(ver MAJOR).$(ver MINOR).$(ver PATCH)
NUMBER=$(($(ver MAJOR) * 10000 + $(ver MINOR) * 100 + $(ver PATCH)))
soname=$(readelf -d b/libmmapio.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
pcver=$(sed -n 's/^Version: //p' b/mmapio.pc)
libver=$(python3 -c 'import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).mmapio_version())' b/libmmapio.so 2>&1)
debver=$(sed -n '1s/^mmapio (\([^)]*\)).*/\1/p' debian/changelog)
[ "$soname" = "libmmapio.so.$MAJOR" ] && [ "$pcver" = "$VERSION" ] && [ "$libver" = "$NUMBER" ] &&
	[ "$debver" = "$VERSION" ]
st=$?
result "$st" "one version ($VERSION): soname, mmapio.pc, mmapio_version(), debian/changelog" \
	"soname '$soname', mmapio.pc '$pcver', mmapio_version() '$libver', changelog '$debver'"

# Exports: the shared library exports exactly the header's functions; the
# shim exports none of them (the core is embedded with its API hidden);
# debian/libmmapio0.symbols lists the same.
api=$(sed -n 's/^MMAPIO_API[^;(]*[ *]\(mmapio_[a-z0-9_]*\) *(.*/\1/p' include/mmapio.h | sort -u | tr '\n' ' ')
exported=$(nm -D --defined-only b/libmmapio.so | awk '$2 == "T" {print $3}' | sort -u | tr '\n' ' ')
leaked=$(nm -D --defined-only b/libmmapio_preload.so | awk '{print $3}' | grep '^mmapio' | tr '\n' ' ')
syms=$(sed -n 's/^ \(mmapio[a-z0-9_]*\)@Base .*/\1/p' debian/libmmapio0.symbols | sort -u | tr '\n' ' ')
[ -n "$api" ] && [ "$exported" = "$api" ] && [ -z "$leaked" ]
st=$?
result "$st" "libmmapio.so exports exactly the header's functions, the shim none of them" \
	"header: '$api'; exported: '$exported'; the shim exports: '$leaked'"
[ "$syms" = "$exported" ]
st=$?
result "$st" "debian/libmmapio0.symbols lists exactly what libmmapio.so exports" \
	"symbols file: '$syms'; exported: '$exported'"

# The shim never calls a name it exports through the PLT: the core reaches
# the kernel through the real functions (core/sys.c), the shim's own calls
# go to its static functions. (A call to its own export would come back into
# its wrapper, or into another interposer's.)
shim_exports=$(nm -D --defined-only b/libmmapio_preload.so | awk '$2 == "T" || $2 == "W" {print $3}' | sort -u)
shim_plt=$(objdump -d b/libmmapio_preload.so | sed -n 's/.*call .*<\([A-Za-z0-9_]*\)@plt>.*/\1/p' | sort -u)
self=$(comm -12 <(echo "$shim_exports") <(echo "$shim_plt") | tr '\n' ' ')
[ -n "$shim_exports" ] && [ -z "$self" ]
st=$?
result "$st" "the shim calls none of its own exported names through the PLT" "it calls: $self"

# make install with another PREFIX after a default build: the .pc follows.
M install DESTDIR="$TMP/d" PREFIX=/opt >"$TMP/install.log" 2>&1
rc=$?
pc=$TMP/d/opt/lib/pkgconfig/mmapio.pc
pcdirs=$(for v in prefix libdir includedir; do
	PKG_CONFIG_PATH=$TMP/d/opt/lib/pkgconfig pkg-config --variable=$v mmapio 2>&1
done | tr '\n' ' ')
[ "$rc" -eq 0 ] && [ "$(sed -n 's/^prefix=//p' "$pc")" = /opt ] && [ "$pcdirs" = "/opt /opt/lib /opt/include " ]
st=$?
result "$st" "make install PREFIX=/opt installs a mmapio.pc that says /opt" \
	"exit $rc; $(head -4 "$pc" 2>&1 | tr '\n' ' '); pkg-config: $pcdirs"

files=$(cd "$TMP/d" && find . ! -type d | sort | tr '\n' ' ')
want="./opt/bin/mmapio-ab ./opt/bin/mmapio-run ./opt/include/mmapio.h ./opt/lib/libmmapio.a ./opt/lib/libmmapio.so ./opt/lib/libmmapio.so.$MAJOR ./opt/lib/libmmapio.so.$VERSION ./opt/lib/libmmapio_preload.so ./opt/lib/pkgconfig/mmapio.pc ./opt/share/man/man1/mmapio-ab.1 ./opt/share/man/man1/mmapio-run.1 ./opt/share/man/man3/libmmapio.3 ./opt/share/man/man7/mmapio.7 "
[ "$files" = "$want" ] && [ "$(readlink "$TMP/d/opt/lib/libmmapio.so.$MAJOR")" = "libmmapio.so.$VERSION" ]
st=$?
result "$st" "make install installs the libraries, header, .pc, scripts and man pages" "installed: $files"

# shellcheck disable=SC2016 # the child's LD_PRELOAD, expanded by the child
seen=$(cd "$TMP" && "$TMP/d/opt/bin/mmapio-run" -- sh -c 'printf %s "$LD_PRELOAD"' 2>&1)
abl=$(cd "$TMP" && "$TMP/d/opt/bin/mmapio-ab" --runs 1 -- true 2>&1 | sed -n 's/.*; library //p')
[ "$seen" = "$TMP/d/opt/lib/libmmapio_preload.so" ] && [ "$abl" = "$seen" ]
st=$?
result "$st" "installed mmapio-run and mmapio-ab find the installed shim" \
	"mmapio-run: '$seen'; mmapio-ab: '$abl'"

M install DESTDIR="$TMP/d2" PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu >/dev/null 2>&1
libdir=$(PKG_CONFIG_PATH=$TMP/d2/usr/lib/x86_64-linux-gnu/pkgconfig pkg-config --variable=libdir mmapio 2>&1)
[ "$libdir" = /usr/lib/x86_64-linux-gnu ]
st=$?
result "$st" "LIBDIR=/usr/lib/<multiarch> reaches mmapio.pc" "libdir '$libdir'"

M uninstall DESTDIR="$TMP/d" PREFIX=/opt >/dev/null 2>&1
rc=$?
left=$(cd "$TMP/d" && find . ! -type d | tr '\n' ' ')
[ "$rc" -eq 0 ] && [ -z "$left" ]
st=$?
result "$st" "make uninstall removes every file install made" "exit $rc, left: $left"

finish
