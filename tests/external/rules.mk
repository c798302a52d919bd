# tests/external: other projects' test suites against the shim. Included by
# the top Makefile. Not part of `make test`: they need checkouts of those
# projects (see each script's head).
#
#   make test-external LTP=/path/to/ltp XFSTESTS=/path/to/xfstests
#
# Either variable may be left out; that suite is then skipped.

test-external: libs
	@rc=0; \
	if [ -n "$(XFSTESTS)" ]; then tests/external/fsx.sh $(B) $(XFSTESTS) || rc=1; \
	else echo "skip fsx: XFSTESTS= not given"; fi; \
	if [ -n "$(LTP)" ]; then tests/external/ltp.sh $(B) $(LTP) || rc=1; \
	else echo "skip ltp: LTP= not given"; fi; \
	exit $$rc

.PHONY: test-external
