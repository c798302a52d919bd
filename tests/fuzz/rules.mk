# Fuzzing the environment parser.
#   make fuzz [FUZZ_SECONDS=60]   libFuzzer + ASan/UBSan (clang), bounded in time
# The same target is replayed over tests/fuzz/corpus by `make test` (gcc).
FUZZ_SECONDS ?= 60
FUZZ_SRC := preload/parse.c preload/config.c preload/real.c
FUZZ_FLAGS := -std=gnu11 -g -O1 -Iinclude -Ipreload -DMMAPIO_EMBEDDED -pthread

$(B)/tests/fuzz-replay: tests/fuzz/fuzz_config.c tests/fuzz/replay.c $(FUZZ_SRC) tests/fuzz/log_stub.c
	@mkdir -p $(@D)
	$(CC) $(FUZZ_FLAGS) -Wall -Wextra $^ -ldl -o $@

$(B)/tests/fuzz-config: tests/fuzz/fuzz_config.c $(FUZZ_SRC) tests/fuzz/log_stub.c
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined $^ -ldl -o $@

all: $(B)/tests/fuzz-replay

# It runs in a scratch directory, removed afterwards: the target creates the
# MMAPIO_STATS files it is given there. Crash inputs go to $(B)/fuzz-artifacts.
fuzz: setup
	scripts/setup --fuzz
	$(MAKE) $(B)/tests/fuzz-config
	mkdir -p $(B)/fuzz-corpus $(B)/fuzz-artifacts && cp -n tests/fuzz/corpus/* $(B)/fuzz-corpus/ || true
	scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && cd "$$scratch" && \
	ASAN_OPTIONS=detect_leaks=0 $(abspath $(B))/tests/fuzz-config -max_total_time=$(FUZZ_SECONDS) \
		-max_len=256 -artifact_prefix=$(abspath $(B))/fuzz-artifacts/ $(abspath $(B))/fuzz-corpus

.PHONY: fuzz
