# mmapio - one entry point: make, make test, make bench, make install.
#
#   make              libraries (static, shared, preload shim), man pages, tests and benches
#   make libs man     only the libraries and pkg-config file / only the man pages
#   make test         setup if needed, build, run every test; ends "N passed, M failed"
#   make test-asan    the same tests built with -fsanitize=address,undefined
#   make test-core    only the core's cmocka suites (no setup)
#   make bench        benchmark tables (baseline / mmapio / raw mapping)
#   make install      PREFIX=/usr/local LIBDIR=$(PREFIX)/lib DESTDIR=
#   make uninstall    the same variables: removes every file install made
#   make deb          Debian packages into $(B)/deb (see debian/, scripts/build-deb)

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
B       ?= build

# One version: the MMAPIO_VERSION_* macros of include/mmapio.h. The soname,
# the shared library's file name, mmapio.pc and debian/changelog follow it.
version_part = $(shell sed -n 's/^\#define MMAPIO_VERSION_$(1) *\([0-9][0-9]*\).*/\1/p' include/mmapio.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION_MINOR := $(call version_part,MINOR)
VERSION_PATCH := $(call version_part,PATCH)
VERSION       := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
SONAME        := libmmapio.so.$(VERSION_MAJOR)

CC      ?= gcc
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
# No -Icore, no -Ipreload: each directory includes its own headers ("x.h"
# from beside the source), so the shim cannot reach the core's internals and
# the core cannot see the shim: the layering is the compiler's to enforce.
BASE     = -std=gnu11 $(WARN) -Iinclude -pthread $(CPPFLAGS)
LDLIBS   = -pthread -ldl
# Per-target header dependencies, written by the compiler next to each output
# (-MP: a deleted header is not an error), read back at the end of this file.
DEPFLAGS = -MMD -MP

ARCH    := $(shell uname -m)
CORE_C  := $(wildcard core/*.c)
CORE_S  := $(if $(filter x86_64,$(ARCH)),core/copy_x86_64.S,)
ifeq ($(CORE_S),)
BASE    += -DMMAPIO_FAULT_PORTABLE
endif

CORE_O      := $(CORE_C:%.c=$(B)/obj/%.o) $(CORE_S:%.S=$(B)/obj/%.o)
CORE_PORT_O := $(CORE_C:%.c=$(B)/obj-portable/%.o)
PRE_C       := $(wildcard preload/*.c)
PRE_S       := $(if $(filter x86_64,$(ARCH)),preload/vfork_x86_64.S,)
PRE_O       := $(PRE_C:%.c=$(B)/obj-pre/%.o) $(PRE_S:%.S=$(B)/obj-pre/%.o) $(CORE_C:%.c=$(B)/obj-pre/%.o) $(CORE_S:%.S=$(B)/obj-pre/%.o)

CORE_TESTS  := $(patsubst tests/core/%.c,$(B)/tests/%,$(wildcard tests/core/test_*.c))
PORT_TESTS  := $(patsubst %,%.portable,$(filter %test_fault %test_io %test_copy,$(CORE_TESTS)))
PRE_PROGS   := $(patsubst tests/preload/%.c,$(B)/tests/preload/%,$(wildcard tests/preload/prog_*.c))
PRE_PROGS   += $(PRE_PROGS:%=%.fortify)
BENCHES     := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/bench_*.c))

LIBS := $(B)/libmmapio.a $(B)/libmmapio.so $(if $(PRE_C),$(B)/libmmapio_preload.so,)

# Man pages: scdoc sources in man/, NAME.SECTION.scd -> $(B)/man/NAME.SECTION
# (.nh added: no hyphenation inside names like MMAPIO_MAX_SIZE).
MAN_SRC   := $(wildcard man/*.scd)
MAN_PAGES := $(MAN_SRC:man/%.scd=$(B)/man/%)

all: $(LIBS) $(B)/mmapio.pc $(MAN_PAGES) $(CORE_TESTS) $(PORT_TESTS) $(PRE_PROGS) $(BENCHES) \
	$(B)/bench/empty_preload.so
libs: $(LIBS) $(B)/mmapio.pc
man: $(MAN_PAGES)

$(B)/obj/%.o: %.c $(B)/obj/%.d
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(DEPFLAGS) -fPIC -fvisibility=hidden -c $< -o $@
$(B)/obj/%.o: %.S $(B)/obj/%.d
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(DEPFLAGS) -fPIC -c $< -o $@
$(B)/obj-portable/%.o: %.c $(B)/obj-portable/%.d
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(DEPFLAGS) -DMMAPIO_FAULT_PORTABLE -fPIC -fvisibility=hidden -c $< -o $@
# The shim embeds the core with its API hidden: it exports only interposed names.
# (The core's tests see its test seams, core/testing.h: -Icore there only.)
$(B)/obj-pre/%.o: %.c $(B)/obj-pre/%.d
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(DEPFLAGS) -DMMAPIO_EMBEDDED -fPIC -fvisibility=hidden -c $< -o $@
$(B)/obj-pre/%.o: %.S $(B)/obj-pre/%.d
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(DEPFLAGS) -DMMAPIO_EMBEDDED -fPIC -c $< -o $@

$(B)/libmmapio.a: $(CORE_O)
	rm -f $@ && ar rcs $@ $^
$(B)/libmmapio-portable.a: $(CORE_PORT_O)
	rm -f $@ && ar rcs $@ $^
$(B)/libmmapio.so: $(CORE_O)
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,-z,noexecstack $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/libmmapio_preload.so: $(PRE_O)
	$(CC) $(CFLAGS) -shared -Wl,-z,noexecstack -Wl,-z,nodelete $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Programs built from one source: the dependency file is OUTPUT.d.
$(B)/tests/%: tests/core/%.c $(B)/libmmapio.a $(B)/tests/%.d
	@mkdir -p $(@D)
	$(CC) $(BASE) -Icore $(DEPFLAGS) -MF $@.d -O1 -g $< $(B)/libmmapio.a -lcmocka $(LDLIBS) -o $@
$(B)/tests/%.portable: tests/core/%.c $(B)/libmmapio-portable.a $(B)/tests/%.portable.d
	@mkdir -p $(@D)
	$(CC) $(BASE) -Icore $(DEPFLAGS) -MF $@.d -DMMAPIO_FAULT_PORTABLE -O1 -g $< $(B)/libmmapio-portable.a -lcmocka $(LDLIBS) -o $@
$(B)/tests/preload/%: tests/preload/%.c $(B)/tests/preload/%.d
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -pthread $(DEPFLAGS) -MF $@.d -O0 -g $< -o $@ -lm
$(B)/tests/preload/%.fortify: tests/preload/%.c $(B)/tests/preload/%.fortify.d
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -pthread $(DEPFLAGS) -MF $@.d -O2 -D_FORTIFY_SOURCE=2 $< -o $@ -lm
# The limit of bench_shim's table 3: preloading a library that does nothing.
$(B)/bench/empty_preload.so: bench/empty_preload.c
	@mkdir -p $(@D)
	$(CC) $(BASE) -shared -fPIC -O2 $< -o $@
$(B)/bench/%: bench/%.c $(B)/libmmapio.a $(B)/bench/%.d
	@mkdir -p $(@D)
	$(CC) $(BASE) $(DEPFLAGS) -MF $@.d -O2 $< $(B)/libmmapio.a $(LDLIBS) -o $@

# mmapio.pc names the directories of the install it is made for: it is
# rebuilt whenever PREFIX, LIBDIR, INCDIR or the version differ from the last
# build ($(B)/mmapio.pc.vars holds them). libdir and includedir are written
# relative to ${prefix} when they lie under it.
PC_VARS := $(PREFIX) $(LIBDIR) $(INCDIR) $(VERSION)
ifneq ($(PC_VARS),$(shell cat $(B)/mmapio.pc.vars 2>/dev/null))
$(shell mkdir -p $(B) && echo '$(PC_VARS)' > $(B)/mmapio.pc.vars)
endif
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
$(B)/mmapio.pc: $(B)/mmapio.pc.vars
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: mmapio\nDescription: memory-mapped file I/O that survives truncation and faults\nVersion: %s\nLibs: -L$${libdir} -lmmapio\nLibs.private: -pthread\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(call pc_rel,$(LIBDIR))' '$(call pc_rel,$(INCDIR))' '$(VERSION)' > $@

$(B)/man/%: man/%.scd
	@mkdir -p $(@D)
	@command -v scdoc >/dev/null || { echo "scdoc is needed for the man pages: run scripts/setup (or apt-get install scdoc)" >&2; exit 1; }
	scdoc < $< > $@.tmp || { rm -f $@.tmp; exit 1; }
	sed '/^\.TH /a .nh' $@.tmp > $@ && rm -f $@.tmp

# Setup installs the Debian packages the build and tests need; it records
# success so that later runs cost nothing.
$(B)/.setup-done: scripts/setup
	@mkdir -p $(@D)
	scripts/setup
	@touch $@
setup: $(B)/.setup-done

test: setup
	$(MAKE) all
	tests/run-all.sh $(B)

# The core's cmocka suites alone, without setup (the Debian package build
# runs them with its own flags).
test-core: $(CORE_TESTS) $(PORT_TESTS)
	tests/run-all.sh $(B) --core-only

test-asan: setup
	$(MAKE) B=build-asan OPT="-O1 -g -DMMAPIO_DEBUG -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDLIBS="-pthread -ldl -fsanitize=address,undefined" all
	ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	tests/run-all.sh build-asan --core-only
	# The shim built with ASan+UBSan, preloaded after the ASan runtime, under
	# the differential programs (real programs are left out: ASan also
	# judges their own allocations). disable_coredump=0: ASan would call
	# setrlimit at its start, which the shim interposes (preload/limits.c)
	# before its constructor has run (the program crashes), as for TSan in
	# tests/stress/run.sh.
	ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:detect_leaks=0:disable_coredump=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	PRELOAD_TEST_ONLY='^prog_' \
	PRELOAD_TEST_PRELOAD="$$($(CC) -print-file-name=libasan.so) $(abspath build-asan)/libmmapio_preload.so" \
	tests/preload/run.sh build-asan

bench: setup all
	@for b in $(BENCHES); do $$b || exit 1; done

# The installed scripts know where the shim went: LIBDIR, absolute and
# relative to BINDIR (so a tree copied elsewhere, e.g. by dpkg -x, still works).
LIBDIR_REL = $(shell realpath -m --relative-to='$(BINDIR)' '$(LIBDIR)')
SCRIPTS   := $(wildcard scripts/mmapio-run scripts/mmapio-ab)
INSTALLED := $(LIBDIR)/libmmapio.a $(LIBDIR)/libmmapio.so.$(VERSION) $(LIBDIR)/$(SONAME) \
	$(LIBDIR)/libmmapio.so $(if $(PRE_C),$(LIBDIR)/libmmapio_preload.so) $(INCDIR)/mmapio.h \
	$(LIBDIR)/pkgconfig/mmapio.pc $(SCRIPTS:scripts/%=$(BINDIR)/%) \
	$(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

install: $(LIBS) $(B)/mmapio.pc $(MAN_PAGES)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 644 $(B)/libmmapio.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(B)/libmmapio.so $(DESTDIR)$(LIBDIR)/libmmapio.so.$(VERSION)
	ln -sf libmmapio.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libmmapio.so
	$(if $(PRE_C),install -m 644 $(B)/libmmapio_preload.so $(DESTDIR)$(LIBDIR)/)
	install -m 644 include/mmapio.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(B)/mmapio.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	for s in $(SCRIPTS); do \
		sed -e 's|^installed_libdir=.*|installed_libdir="$(LIBDIR)"|' \
		    -e 's|^installed_libdir_rel=.*|installed_libdir_rel="$(LIBDIR_REL)"|' \
		    -e 's|^INSTALLED_LIBDIR = .*|INSTALLED_LIBDIR = "$(LIBDIR)"|' \
		    -e 's|^INSTALLED_LIBDIR_REL = .*|INSTALLED_LIBDIR_REL = "$(LIBDIR_REL)"|' \
		    $$s > $(DESTDIR)$(BINDIR)/$${s##*/} && chmod 755 $(DESTDIR)$(BINDIR)/$${s##*/} || exit 1; \
	done
	for m in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}; install -d $$d && install -m 644 $$m $$d/ || exit 1; \
	done

# Every file install makes, and nothing else (directories are left).
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# Debian packages (debian/): built from a copy of the checkout in a temporary
# directory, .deb files and the lintian report left in $(B)/deb.
deb: setup
	scripts/build-deb $(B)/deb

clean:
	rm -rf build build-asan build-tsan

# Feature areas add their own targets (see each rules.mk): they may append
# to TEST_SCRIPTS (run by tests/run-all.sh after the core suites) and use $(B).
-include $(wildcard tests/*/rules.mk bench/*/rules.mk scripts/rules.mk)

# The compiler's dependency files. Named here, so that a missing one (an
# output built before, or an interrupted compile) makes its output rebuild.
DEPFILES := $(patsubst %.o,%.d,$(CORE_O) $(CORE_PORT_O) $(PRE_O)) \
	$(addsuffix .d,$(CORE_TESTS) $(PORT_TESTS) $(PRE_PROGS) $(BENCHES))
$(DEPFILES):
-include $(wildcard $(DEPFILES))

.PHONY: all libs man setup test test-core test-asan bench install uninstall deb clean
.DELETE_ON_ERROR:
