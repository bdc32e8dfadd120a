/*
 * rg_config_check: load a ringgate config file with engine/config and print its errors.
 * Exits 0 when the file is valid, 1 otherwise. Built for the integration harness
 * (tests/integ/lib/rgtest.py), which checks every config it writes against the real parser
 * so a schema change cannot silently break the configs the tests hand to ringgate.
 */
#include <stdio.h>

#include "config.h"

int main(int argc, char **argv)
{
	struct rg_config *cfg = NULL;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CONFIG\n", argv[0]);
		return 2;
	}
	rc = rg_config_load(argv[1], &cfg, stderr);
	rg_config_free(cfg);
	return rc == 0 ? 0 : 1;
}
