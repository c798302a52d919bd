# External benchmarks: real programs (fio, sqlite3, ripgrep, coreutils) run
# with and without the shim by scripts/mmapio-ab; one summary table at the end.
#   make bench-external                      about 5 minutes on 2 cores
#   make bench-external MMAPIO_BENCH_QUICK=1  about 1-2 minutes
# Installs fio, sqlite3, ripgrep from Debian if missing (as root, or sudo).
# Data in a temp dir under /var/tmp (or $MMAPIO_BENCH_DIR, kept and reused);
# tables and JSON in $(B)/bench-external.
bench-external: $(B)/libmmapio_preload.so
	MMAPIO_LIB=$(abspath $(B)/libmmapio_preload.so) MMAPIO_BENCH_OUT=$(abspath $(B))/bench-external \
		bench/external/run-all.sh

.PHONY: bench-external
