/*
 * rg_myclass_check: the MySQL classifier's facts for one string, as one JSON line, for the
 * differential test against a real MariaDB (test_my_lexing.py). Usage:
 *   rg_myclass_check <server_version> <modes> [mysql]  < sql
 * modes: RG_MY_* flags as a number. The text is read whole from stdin (NUL bytes kept).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysqlclass.h"

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	if (argc < 3) {
		fprintf(stderr, "usage: %s server_version modes [mysql] < sql\n", argv[0]);
		return 2;
	}
	struct rg_my_lexing lx = {(uint32_t)strtoul(argv[1], NULL, 10),
				  argc > 3 && !strcmp(argv[3], "mysql") ? RG_MY_MYSQL
									: RG_MY_MARIADB,
				  (unsigned)strtoul(argv[2], NULL, 10)};
	size_t n = fread(buf, 1, sizeof(buf), stdin);
	struct rg_myclass *c = rg_myclass_new();
	struct rg_sql_facts f;
	if (!c || rg_myclass_run(c, &lx, buf, n, 0, &f)) {
		fprintf(stderr, "classifier failed\n");
		return 1;
	}
	printf("{\"status\": %d, \"nstmts\": %u, \"ops\": [", f.status, f.nstmts);
	for (int i = 0, k = 0; i < RG_OP__COUNT; i++)
		if (f.ops & RG_OP_BIT(i)) {
			printf(k++ ? ", " : "");
			json_str(rg_sql_op_name(i));
		}
	printf("], \"without_where\": [");
	for (int i = 0, k = 0; i < RG_OP__COUNT; i++)
		if (f.ops_without_where & RG_OP_BIT(i)) {
			printf(k++ ? ", " : "");
			json_str(rg_sql_op_name(i));
		}
	printf("], \"tables\": [");
	for (size_t i = 0; i < f.ntables; i++) {
		printf(i ? ", [" : "[");
		json_str(f.tables[i].schema);
		printf(", ");
		json_str(f.tables[i].name);
		printf(", %d]", f.tables[i].access);
	}
	printf("], \"functions\": [");
	for (size_t i = 0; i < f.nfunctions; i++) {
		printf(i ? ", " : "");
		json_str(f.functions[i].name);
	}
	printf("]}\n");
	rg_myclass_free(c);
	return 0;
}
