/* What policy.c needs from the rest of the shim, for unit tests. */
#include "shim.h"

struct shim_config cfg;
size_t shim_pagesize = 4096;
