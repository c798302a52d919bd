$(B)/tests/policy/access: tests/policy/access.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -O2 $< -o $@

all: $(B)/tests/policy/access
