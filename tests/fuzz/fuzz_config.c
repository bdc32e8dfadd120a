/*
 * Fuzz target for rg_config_parse: arbitrary bytes in, a config or a list of errors out.
 * Errors are printed to a memory stream (not NULL) so the formatting and sorting paths run
 * too. On success the lookups are exercised over every name the config holds, so a field
 * left dangling by a partial parse would show up under ASan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_config *cfg = NULL;
	char *errs = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&errs, &len);

	if (rg_config_parse((const char *)data, size, "fuzz.yaml", "/base", &cfg, f) == 0) {
		for (size_t i = 0; i < cfg->n_targets; i++)
			if (rg_config_target(cfg, cfg->targets[i].name) == NULL)
				abort();
		for (size_t i = 0; i < cfg->n_listeners; i++)
			if (rg_config_listener(cfg, cfg->listeners[i].name) == NULL)
				abort();
		for (size_t i = 0; i < cfg->identity.n_issuers; i++)
			if (rg_config_issuer(cfg, cfg->identity.issuers[i].issuer) == NULL)
				abort();
		rg_config_free(cfg);
	}
	if (f)
		fclose(f);
	free(errs);
	return 0;
}
