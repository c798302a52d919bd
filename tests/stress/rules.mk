# tests/stress: the reliability suite. Included by the top Makefile.
#
#   make              also builds $(B)/tests/stress/<name> from tests/stress/<name>.c
#   make test         runs tests/stress/run.sh $(B) with the other areas' runners
#   make test-long    the long variants: fsx at 1,000,000 operations per seed,
#                     2 threads x 1,000,000 operations under load and TSan
#
# The ThreadSanitizer build of the shim (build-tsan/) is made by run.sh
# itself, with gcc, when it reaches the TSan case.

STRESS_PROGS := $(patsubst tests/stress/%.c,$(B)/tests/stress/%,$(wildcard tests/stress/*.c))

all: $(STRESS_PROGS)

$(B)/tests/stress/%: tests/stress/%.c tests/stress/stress.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -O2 -g -pthread $< -o $@

test-long: all
	tests/stress/run.sh $(B) --long

.PHONY: test-long
