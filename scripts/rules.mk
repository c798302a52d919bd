# make demo: on a fresh Debian machine (as root): install what the build
# needs (scripts/setup), build, then A/B one real program where the shim
# helps (fio, 4 KiB random preads of a hot 256 MiB file; fio is installed
# from Debian if missing) and print mmapio-ab's comparison table. ~1-2 min.
demo: setup
	$(MAKE) all
	MMAPIO_LIB=$(abspath $(B))/libmmapio_preload.so bench/external/demo.sh

.PHONY: demo
