/* What config.c needs from the rest of the shim, for the fuzz target. */
#include "shim.h"

bool stats_on;
void shim_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}
