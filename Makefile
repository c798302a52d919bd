# mmapio - one entry point: make, make test, make bench, make install.
#
#   make              libraries (static, shared, preload shim), tests and benches
#   make test         setup if needed, build, run every test; ends "N passed, M failed"
#   make test-asan    the same tests built with -fsanitize=address,undefined
#   make bench        benchmark tables (baseline / mmapio / raw mapping)
#   make install      PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
B       ?= build

CC      ?= gcc
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
BASE     = -std=gnu11 $(WARN) -Iinclude -Icore -pthread
LDLIBS   = -pthread -ldl

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

all: $(LIBS) $(CORE_TESTS) $(PORT_TESTS) $(PRE_PROGS) $(BENCHES) $(B)/mmapio.pc

$(B)/obj/%.o: %.c $(wildcard include/*.h core/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@
$(B)/obj/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -fPIC -c $< -o $@
$(B)/obj-portable/%.o: %.c $(wildcard include/*.h core/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -DMMAPIO_FAULT_PORTABLE -fPIC -fvisibility=hidden -c $< -o $@
# The shim embeds the core with its API hidden: it exports only interposed names.
$(B)/obj-pre/%.o: %.c $(wildcard include/*.h core/*.h preload/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -DMMAPIO_EMBEDDED -Ipreload -fPIC -fvisibility=hidden -c $< -o $@
$(B)/obj-pre/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -DMMAPIO_EMBEDDED -fPIC -c $< -o $@

$(B)/libmmapio.a: $(CORE_O)
	rm -f $@ && ar rcs $@ $^
$(B)/libmmapio-portable.a: $(CORE_PORT_O)
	rm -f $@ && ar rcs $@ $^
$(B)/libmmapio.so: $(CORE_O)
	$(CC) -shared -Wl,-soname,libmmapio.so.0 -Wl,-z,noexecstack -o $@ $^ $(LDLIBS)
$(B)/libmmapio_preload.so: $(PRE_O)
	$(CC) -shared -Wl,-z,noexecstack -Wl,-z,nodelete -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/core/%.c $(B)/libmmapio.a
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g $< $(B)/libmmapio.a -lcmocka $(LDLIBS) -o $@
$(B)/tests/%.portable: tests/core/%.c $(B)/libmmapio-portable.a
	@mkdir -p $(@D)
	$(CC) $(BASE) -DMMAPIO_FAULT_PORTABLE -O1 -g $< $(B)/libmmapio-portable.a -lcmocka $(LDLIBS) -o $@
$(B)/tests/preload/%: tests/preload/%.c $(wildcard tests/preload/*.h)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -pthread -O0 -g $< -o $@ -lm
$(B)/tests/preload/%.fortify: tests/preload/%.c $(wildcard tests/preload/*.h)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -pthread -O2 -D_FORTIFY_SOURCE=2 $< -o $@ -lm
$(B)/bench/%: bench/%.c $(B)/libmmapio.a $(wildcard bench/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) -O2 $< $(B)/libmmapio.a $(LDLIBS) -o $@

$(B)/mmapio.pc: Makefile
	@mkdir -p $(@D)
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: mmapio\nDescription: memory-mapped file I/O that survives truncation and faults\nVersion: 0.1.0\nLibs: -L$${libdir} -lmmapio\nLibs.private: -pthread\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' > $@

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

test-asan: setup
	$(MAKE) B=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDLIBS="-pthread -ldl -fsanitize=address,undefined" all
	ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	tests/run-all.sh build-asan --core-only
	# The shim built with ASan+UBSan, preloaded after the ASan runtime, under
	# the differential programs (real programs are left out: ASan also
	# judges their own allocations).
	ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:detect_leaks=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	PRELOAD_TEST_ONLY='^prog_' \
	PRELOAD_TEST_PRELOAD="$$($(CC) -print-file-name=libasan.so) $(abspath build-asan)/libmmapio_preload.so" \
	tests/preload/run.sh build-asan

bench: setup all
	@for b in $(BENCHES); do $$b || exit 1; done

install: $(LIBS) $(B)/mmapio.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 644 $(B)/libmmapio.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libmmapio.so $(DESTDIR)$(LIBDIR)/libmmapio.so.0
	ln -sf libmmapio.so.0 $(DESTDIR)$(LIBDIR)/libmmapio.so
	$(if $(PRE_C),install -m 755 $(B)/libmmapio_preload.so $(DESTDIR)$(LIBDIR)/)
	install -m 644 include/mmapio.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(B)/mmapio.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	for s in scripts/mmapio-run scripts/mmapio-ab; do [ -f $$s ] && install -m 755 $$s $(DESTDIR)$(BINDIR)/ || true; done

clean:
	rm -rf build build-asan build-tsan

# Feature areas add their own targets (see each rules.mk): they may append
# to TEST_SCRIPTS (run by tests/run-all.sh after the core suites) and use $(B).
-include $(wildcard tests/*/rules.mk bench/*/rules.mk scripts/rules.mk)

.PHONY: all setup test test-asan bench install clean
.DELETE_ON_ERROR:
