/*
 * names: printable names of policy enums and the keyword table behind the prefilter.
 *
 * Rules name operations, detectors and styles by these strings; the bundle stores the enum
 * values, so the tables here are part of the on-disk contract: append only.
 * The keyword table says, per operation, the SQL keywords at least one of which must occur
 * in the text of any statement with that operation. SQL keywords cannot be escaped or
 * quoted, so a statement whose text contains none of them cannot have the operation: this
 * is what lets rulec build a sound Hyperscan prefilter. tests/unit/policy checks it against
 * the parser over a corpus.
 */
#include <string.h>
#include <strings.h>

#include "policy.h"

const char *rg_verdict_name(enum rg_verdict v)
{
	switch (v) {
	case RG_VERDICT_ALLOW:
		return "allow";
	case RG_VERDICT_LOG:
		return "log";
	case RG_VERDICT_HOLD:
		return "hold";
	case RG_VERDICT_DENY:
		return "deny";
	}
	return "?";
}

#define KW(...)                                                                                    \
	(const char *const[])                                                                      \
	{                                                                                          \
		__VA_ARGS__, NULL                                                                  \
	}

static const struct {
	const char *name;
	const char *const *keywords;
} ops[RG_OP__COUNT] = {
	[RG_OP_UNKNOWN] = { "unknown", NULL },
	/* do, handler: MySQL's DO expr and HANDLER reads */
	[RG_OP_SELECT] = { "select", KW("select", "table", "values", "do", "handler") },
	[RG_OP_INSERT] = { "insert", KW("insert", "replace") },
	[RG_OP_UPDATE] = { "update", KW("update") },
	[RG_OP_DELETE] = { "delete", KW("delete") },
	[RG_OP_MERGE] = { "merge", KW("merge") },
	[RG_OP_DROP] = { "drop", KW("drop") },
	[RG_OP_TRUNCATE] = { "truncate", KW("truncate") },
	/* MySQL: RENAME TABLE/USER, SET PASSWORD, SET DEFAULT ROLE */
	[RG_OP_ALTER] = { "alter", KW("alter", "rename", "password", "role") },
	/* "into": SELECT ... INTO creates a table without saying CREATE */
	[RG_OP_CREATE] = { "create", KW("create", "into") },
	[RG_OP_GRANT] = { "grant", KW("grant") },
	[RG_OP_REVOKE] = { "revoke", KW("revoke") },
	[RG_OP_CREATE_ROLE] = { "create_role", KW("role", "user", "group") },
	[RG_OP_ALTER_ROLE] = { "alter_role", KW("role", "user", "group", "password") },
	[RG_OP_DROP_ROLE] = { "drop_role", KW("role", "user", "group") },
	/* MySQL: SET GLOBAL/PERSIST x, SET @@global.x, @@persist.x */
	[RG_OP_ALTER_SYSTEM] = { "alter_system", KW("system", "global", "persist") },
	/* MySQL: SELECT ... INTO OUTFILE/DUMPFILE, LOAD DATA [LOCAL] INFILE */
	[RG_OP_COPY_TO_FILE] = { "copy_to_file", KW("copy", "outfile", "dumpfile") },
	[RG_OP_COPY_FROM_FILE] = { "copy_from_file", KW("copy", "infile") },
	[RG_OP_COPY_PROGRAM] = { "copy_program", KW("program") },
	[RG_OP_COPY_TO_STDOUT] = { "copy_to_stdout", KW("copy") },
	[RG_OP_COPY_FROM_STDIN] = { "copy_from_stdin", KW("copy", "infile") },
	[RG_OP_DO] = { "do", KW("do") },
	[RG_OP_CALL] = { "call", KW("call") },
	[RG_OP_SET] = { "set", KW("set", "reset") },
	[RG_OP_PREPARE] = { "prepare", KW("prepare") },
	[RG_OP_EXECUTE] = { "execute", KW("execute") },
	/* MySQL: DROP PREPARE */
	[RG_OP_DEALLOCATE] = { "deallocate", KW("deallocate", "prepare") },
	/* MySQL: DESCRIBE/DESC stmt, MariaDB's ANALYZE stmt */
	[RG_OP_EXPLAIN] = { "explain", KW("explain", "describe", "desc", "analyze") },
	[RG_OP_CREATE_RULE] = { "create_rule", KW("rule") },
	/* MySQL: CREATE TRIGGER/EVENT/PACKAGE too */
	[RG_OP_CREATE_FUNCTION] = { "create_function",
				    KW("function", "procedure", "trigger", "event", "package") },
	[RG_OP_TRANSACTION] = { "transaction",
				KW("begin", "start", "commit", "end", "rollback", "abort",
				   "savepoint", "release", "prepare", "xa") },
	[RG_OP_LOCK] = { "lock", KW("lock", "unlock") },
	/* MySQL: ANALYZE/OPTIMIZE/REPAIR/CHECK/CHECKSUM TABLE */
	[RG_OP_VACUUM] = { "vacuum", KW("vacuum", "analyze", "analyse", "optimize", "repair", "check",
				   "checksum") },
	[RG_OP_LISTEN] = { "listen", KW("listen", "unlisten") },
	[RG_OP_NOTIFY] = { "notify", KW("notify") },
	/* MySQL: DESCRIBE/DESC/EXPLAIN table */
	[RG_OP_SHOW] = { "show", KW("show", "describe", "desc", "explain") },
	[RG_OP_OTHER] = { "other", NULL },
	/* SET/RESET and UPDATE ... SET say "set", and so does set_config unless its name is
	 * U&-escaped */
	[RG_OP_SET_LEXING] = { "set_lexing", KW("set", "u&") },
	[RG_OP_KILL] = { "kill", KW("kill") },
	[RG_OP_FLUSH] = { "flush", KW("flush") },
	[RG_OP_INSTALL_PLUGIN] = { "install_plugin", KW("install", "uninstall", "soname") },
	[RG_OP_USE] = { "use", KW("use") },
};

const char *rg_sql_op_name(enum rg_sql_op op)
{
	if ((unsigned)op >= RG_OP__COUNT)
		return NULL;
	return ops[op].name;
}

int rg_sql_op_from_name(const char *name)
{
	for (int i = 0; i < RG_OP__COUNT; i++)
		if (strcmp(ops[i].name, name) == 0)
			return i;
	return -1;
}

const char *const *rg_sql_op_keywords(enum rg_sql_op op)
{
	if ((unsigned)op >= RG_OP__COUNT)
		return NULL;
	return ops[op].keywords;
}

static const char *const detectors[RG_DET__COUNT] = {
	[RG_DET_CREDIT_CARD] = "credit_card",
	[RG_DET_IBAN] = "iban",
	[RG_DET_US_SSN] = "us_ssn",
	[RG_DET_ABA_ROUTING] = "aba_routing",
	[RG_DET_EMAIL] = "email",
	[RG_DET_PHONE_E164] = "phone_e164",
	[RG_DET_JWT] = "jwt",
	[RG_DET_AWS_ACCESS_KEY] = "aws_access_key",
	[RG_DET_PRIVATE_KEY] = "private_key",
	[RG_DET_IPV4] = "ipv4",
	[RG_DET_IPV6] = "ipv6",
};

const char *rg_detector_name(enum rg_detector d)
{
	return (unsigned)d < RG_DET__COUNT ? detectors[d] : NULL;
}

int rg_detector_from_name(const char *name)
{
	for (int i = 0; i < RG_DET__COUNT; i++)
		if (strcmp(detectors[i], name) == 0)
			return i;
	return -1;
}

static const char *const styles[RG_MASK__COUNT] = {
	[RG_MASK_REDACT] = "redact", [RG_MASK_PARTIAL] = "partial", [RG_MASK_HMAC] = "hmac",
	[RG_MASK_NULL] = "null",     [RG_MASK_STATIC] = "static",
};

const char *rg_mask_style_name(enum rg_mask_style s)
{
	return (unsigned)s < RG_MASK__COUNT ? styles[s] : NULL;
}

int rg_mask_style_from_name(const char *name)
{
	for (int i = 0; i < RG_MASK__COUNT; i++)
		if (strcmp(styles[i], name) == 0)
			return i;
	return -1;
}
