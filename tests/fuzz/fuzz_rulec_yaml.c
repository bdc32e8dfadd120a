/*
 * fuzz_rulec_yaml: arbitrary bytes as one rule file, through the whole front end
 * (rulec_parse_buffer, rulec_check_program, printing the diagnostics) and back out.
 * Anything a user can put in a .yaml file must end in diagnostics, never in a crash, a
 * hang or a leak. The input is also parsed a second time under another name into the
 * same program so the cross-file checks (duplicate ids and packs) see two files.
 */
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct rulec_program p = {0};
	struct rulec_diags d = {0};

	if (!sink)
		sink = fopen("/dev/null", "w");
	rulec_parse_buffer("a.yaml", (const char *)data, size, &p, &d);
	if (size < 512) /* cross-file checks; keep big inputs fast */
		rulec_parse_buffer("b.yaml", (const char *)data, size, &p, &d);
	rulec_check_program(&p, &d);
	if (sink)
		rulec_diags_print(&d, sink);
	rulec_diags_free(&d);
	rulec_program_free(&p);
	return 0;
}
