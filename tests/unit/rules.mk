# Unit tests of the shim's pure parts: the value grammars and the policy.
# They link the shim's objects directly (built with -DMMAPIO_EMBEDDED).
UNIT_OBJS := $(addprefix $(B)/obj-pre/preload/,parse.o policy.o procfs.o real.o) \
	$(B)/obj-pre/preload/unit_stubs.o

$(B)/obj-pre/preload/unit_stubs.o: tests/unit/stubs.c preload/shim.h
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g -DMMAPIO_EMBEDDED -Ipreload -c $< -o $@

$(B)/tests/test_parse: tests/unit/test_parse.c $(B)/obj-pre/preload/parse.o
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g -Ipreload $^ -lcmocka $(LDLIBS) -o $@

$(B)/tests/test_policy: tests/unit/test_policy.c $(UNIT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g -DMMAPIO_EMBEDDED -Ipreload $^ -lcmocka $(LDLIBS) -o $@

all: $(B)/tests/test_parse $(B)/tests/test_policy
