/*
 * sqlclass: classify a SQL string from libpg_query's JSON parse tree (contract: sqlclass.h).
 *
 * Owns the walk over pg_query_parse() output. The walk is a small in-tree scanner that
 * relies on libpg_query's output being well formed JSON, but still checks every byte and
 * fails closed (RG_SQL_UNPARSEABLE) on anything unexpected. It is iterative with an explicit,
 * bounded frame stack, decodes the few strings it keeps (table and function names) in place
 * in the parse result, and keeps that result until the next call so the names need no copy.
 * It never allocates in steady state: every buffer is owned by the context and only grows.
 * It must never classify from the raw SQL text: only the parser's tree decides.
 * Why in-tree: on libpg_query's 1160-byte tree for a 96-byte SELECT, this walk takes ~1.2 us
 * of thread CPU against ~3.1 us for a no-op yajl stream and ~23 us for jansson load+walk
 * (same loaded VM, same run; bench/sqlclass_bench.c has the end-to-end numbers).
 *
 * libpg_query's JSON printer recurses once per tree level and has no depth check: a long
 * "1+1+...+1" chain overflows an 8 MB stack. Inputs small enough to be safe on any worker
 * thread are parsed in place; larger ones run on a helper thread with a big lazily
 * committed stack, and inputs past RG_SQLCLASS_MAX_INPUT fail closed.
 *
 * Fast path (sqlclass_raw.c): printing the tree as JSON is most of pg_query_parse()'s cost,
 * so strings made only of SELECT/INSERT/UPDATE/DELETE/MERGE, transaction control, SET and
 * SHOW are classified from PostgreSQL's raw parse tree instead, in the same job (same stack
 * rules), reporting through the same name sets. It must give exactly the JSON walker's
 * facts; anything else it meets declines and the whole string takes the JSON path, and a
 * string the raw parser rejects is unparseable either way. It is kept honest by a start-up
 * canary (off for the process if the node layout is not the expected one), a differential
 * unit test over every corpus we have, and a fuzz target comparing both paths on each input
 * (RG_SQLCLASS_FORCE_JSON runs the JSON walker alone).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <xxhash.h>

#include <pg_query.h>

#include "lexing.h"
#include "sqlclass.h"
#include "sqlclass_raw.h"

/* Largest input parsed on the caller's stack: at most ~16k tree levels, about 2 MB of stack
 * in libpg_query (5 MB under ASan). Bigger inputs use the helper thread. */
#define DIRECT_MAX (32u << 10)
/* Largest input at all; the helper stack below holds its worst-case depth. */
#define RG_SQLCLASS_MAX_INPUT (2u << 20)
#define BIG_STACK (512ul << 20)
/* JSON nesting the walker accepts; legit statements of DIRECT_MAX bytes stay far below. */
#define MAX_DEPTH 262144u

/* Node types the walk cares about (from {"TypeName": {...}} keys, or implied by a key for
 * structs libpg_query prints without a type wrapper). */
enum ntype {
	T_NONE = 0,
	T_RAWSTMT,	/* element of the top-level "stmts" array */
	T_STRING,
	T_LIST,
	T_FUNCCALL,
	T_COLUMNREF,
	T_AINDIR,
	T_INTO,		/* IntoClause: SELECT INTO / CREATE TABLE AS target */
	T_ONCONFLICT,
	T_SELECT,
	T_INSERT,
	T_UPDATE,
	T_DELETE,
	T_MERGE,
	T_MERGEWHEN,
	T_COPY,
	T_DROP,
	T_GRANT,	/* GrantStmt and GrantRoleStmt */
	T_VARSET,
	T_CREATEFUNC,
	T_RENAME,
	T_WREL,		/* other statements whose relation/relations/... are written */
	T_STMT,		/* any other typed node (ops from the type table) */
};

enum key {
	K_NONE = 0,
	K_STMTS,
	K_STMT,
	K_STMT_LOCATION,
	K_STMT_LEN,
	K_RELNAME,
	K_SCHEMANAME,
	K_SVAL,
	K_FUNCNAME,
	K_FIELDS,
	K_INDIRECTION,
	K_ITEMS,
	K_OBJECTS,
	K_REMOVETYPE,
	K_WHERECLAUSE,
	K_IS_FROM,
	K_IS_PROGRAM,
	K_FILENAME,
	K_IS_GRANT,
	K_RELATION,
	K_RELATIONS,
	K_VIEW,
	K_SEQUENCE,
	K_TABLE,
	K_REL,
	K_INTOCLAUSE,
	K_INTO,
	K_FUNCCALL,
	K_ONCONFLICT,
	K_ACTION,
	K_RETURNING,
	K_COMMANDTYPE,
	K_SELECTSTMT,
	K_TARGETLIST,
	K_FROMCLAUSE,
	K_VALUESLISTS,
	K_RENAMETYPE,
	K_BASE,
	K_LARG,
	K_RARG,
};

#define OPB(x) RG_OP_BIT(RG_OP_##x)

struct word {
	const char *s;
	uint8_t type;	/* for type names */
	uint8_t key;	/* for field names */
	uint64_t ops;	/* set when a node of this type appears */
};

/* Type names with a fixed meaning. Create*Stmt / Drop*Stmt / Alter*Stmt not listed here get
 * CREATE / DROP / ALTER by prefix, and any other *Stmt gets OTHER (see type_of()). */
static const struct word types[] = {
	{ "String", T_STRING, 0, 0 },
	{ "List", T_LIST, 0, 0 },
	{ "FuncCall", T_FUNCCALL, 0, 0 },
	{ "ColumnRef", T_COLUMNREF, 0, 0 },
	{ "A_Indirection", T_AINDIR, 0, 0 },
	{ "IntoClause", T_INTO, 0, 0 },
	{ "RangeVar", T_NONE, 0, 0 },
	{ "ResTarget", T_NONE, 0, 0 },
	{ "A_Const", T_NONE, 0, 0 },
	{ "A_Expr", T_NONE, 0, 0 },
	{ "A_Star", T_NONE, 0, 0 },
	{ "JoinExpr", T_NONE, 0, 0 },
	{ "BoolExpr", T_NONE, 0, 0 },
	{ "TypeCast", T_NONE, 0, 0 },
	{ "TypeName", T_NONE, 0, 0 },
	{ "SubLink", T_NONE, 0, 0 },
	{ "DefElem", T_NONE, 0, 0 },
	{ "ParamRef", T_NONE, 0, 0 },
	{ "SortBy", T_NONE, 0, 0 },
	{ "RoleSpec", T_NONE, 0, 0 },
	{ "RangeSubselect", T_NONE, 0, 0 },
	{ "RangeFunction", T_NONE, 0, 0 },
	{ "CommonTableExpr", T_NONE, 0, 0 },
	{ "WithClause", T_NONE, 0, 0 },
	{ "MergeWhenClause", T_MERGEWHEN, 0, 0 },
	{ "SelectStmt", T_SELECT, 0, 0 },
	{ "InsertStmt", T_INSERT, 0, OPB(INSERT) },
	{ "UpdateStmt", T_UPDATE, 0, OPB(UPDATE) },
	{ "DeleteStmt", T_DELETE, 0, OPB(DELETE) },
	{ "MergeStmt", T_MERGE, 0, OPB(MERGE) },
	{ "CopyStmt", T_COPY, 0, 0 },
	{ "DropStmt", T_DROP, 0, OPB(DROP) },
	{ "DropRoleStmt", T_STMT, 0, OPB(DROP) | OPB(DROP_ROLE) },
	{ "GrantStmt", T_GRANT, 0, 0 },
	{ "GrantRoleStmt", T_GRANT, 0, 0 },
	{ "VariableSetStmt", T_VARSET, 0, 0 },
	{ "ConstraintsSetStmt", T_STMT, 0, OPB(SET) },
	{ "VariableShowStmt", T_STMT, 0, OPB(SHOW) },
	{ "CreateFunctionStmt", T_CREATEFUNC, 0, OPB(CREATE) | OPB(CREATE_FUNCTION) },
	{ "CreateRoleStmt", T_STMT, 0, OPB(CREATE) | OPB(CREATE_ROLE) },
	{ "AlterRoleStmt", T_STMT, 0, OPB(ALTER) | OPB(ALTER_ROLE) },
	{ "AlterRoleSetStmt", T_STMT, 0, OPB(ALTER) | OPB(ALTER_ROLE) },
	{ "AlterSystemStmt", T_STMT, 0, OPB(ALTER) | OPB(ALTER_SYSTEM) },
	{ "RuleStmt", T_WREL, 0, OPB(CREATE) | OPB(CREATE_RULE) },
	{ "RenameStmt", T_RENAME, 0, OPB(ALTER) },
	{ "TruncateStmt", T_WREL, 0, OPB(TRUNCATE) },
	{ "LockStmt", T_WREL, 0, OPB(LOCK) },
	{ "AlterTableStmt", T_WREL, 0, OPB(ALTER) },
	{ "AlterObjectSchemaStmt", T_WREL, 0, OPB(ALTER) },
	{ "AlterOwnerStmt", T_WREL, 0, OPB(ALTER) },
	{ "AlterSeqStmt", T_WREL, 0, OPB(ALTER) },
	{ "AlterPolicyStmt", T_WREL, 0, OPB(ALTER) },
	{ "CreateStmt", T_WREL, 0, OPB(CREATE) },
	{ "CreateTableAsStmt", T_WREL, 0, OPB(CREATE) },
	{ "CreateSeqStmt", T_WREL, 0, OPB(CREATE) },
	{ "CreateTrigStmt", T_WREL, 0, OPB(CREATE) },
	{ "CreatePolicyStmt", T_WREL, 0, OPB(CREATE) },
	{ "ViewStmt", T_WREL, 0, OPB(CREATE) },
	{ "IndexStmt", T_WREL, 0, OPB(CREATE) },
	{ "DefineStmt", T_STMT, 0, OPB(CREATE) },
	{ "CompositeTypeStmt", T_STMT, 0, OPB(CREATE) },
	{ "RefreshMatViewStmt", T_WREL, 0, OPB(OTHER) },
	{ "ClusterStmt", T_WREL, 0, OPB(OTHER) },
	{ "ReindexStmt", T_WREL, 0, OPB(OTHER) },
	{ "DoStmt", T_STMT, 0, OPB(DO) },
	{ "CallStmt", T_STMT, 0, OPB(CALL) },
	{ "PrepareStmt", T_STMT, 0, OPB(PREPARE) },
	{ "ExecuteStmt", T_STMT, 0, OPB(EXECUTE) },
	{ "DeallocateStmt", T_STMT, 0, OPB(DEALLOCATE) },
	{ "ExplainStmt", T_STMT, 0, OPB(EXPLAIN) },
	{ "TransactionStmt", T_STMT, 0, OPB(TRANSACTION) },
	{ "VacuumStmt", T_STMT, 0, OPB(VACUUM) },
	{ "ListenStmt", T_STMT, 0, OPB(LISTEN) },
	{ "UnlistenStmt", T_STMT, 0, OPB(LISTEN) },
	{ "NotifyStmt", T_STMT, 0, OPB(NOTIFY) },
};

static const struct word keys[] = {
	{ "stmts", 0, K_STMTS, 0 },
	{ "stmt", 0, K_STMT, 0 },
	{ "stmt_location", 0, K_STMT_LOCATION, 0 },
	{ "stmt_len", 0, K_STMT_LEN, 0 },
	{ "relname", 0, K_RELNAME, 0 },
	{ "schemaname", 0, K_SCHEMANAME, 0 },
	{ "sval", 0, K_SVAL, 0 },
	{ "funcname", 0, K_FUNCNAME, 0 },
	{ "fields", 0, K_FIELDS, 0 },
	{ "indirection", 0, K_INDIRECTION, 0 },
	{ "items", 0, K_ITEMS, 0 },
	{ "objects", 0, K_OBJECTS, 0 },
	{ "removeType", 0, K_REMOVETYPE, 0 },
	{ "whereClause", 0, K_WHERECLAUSE, 0 },
	{ "is_from", 0, K_IS_FROM, 0 },
	{ "is_program", 0, K_IS_PROGRAM, 0 },
	{ "filename", 0, K_FILENAME, 0 },
	{ "is_grant", 0, K_IS_GRANT, 0 },
	{ "relation", 0, K_RELATION, 0 },
	{ "relations", 0, K_RELATIONS, 0 },
	{ "view", 0, K_VIEW, 0 },
	{ "sequence", 0, K_SEQUENCE, 0 },
	{ "table", 0, K_TABLE, 0 },
	{ "rel", 0, K_REL, 0 },
	{ "intoClause", 0, K_INTOCLAUSE, 0 },
	{ "into", 0, K_INTO, 0 },
	{ "funccall", 0, K_FUNCCALL, 0 },
	{ "onConflictClause", 0, K_ONCONFLICT, 0 },
	{ "action", 0, K_ACTION, 0 },
	{ "returningList", 0, K_RETURNING, 0 },
	{ "commandType", 0, K_COMMANDTYPE, 0 },
	{ "selectStmt", 0, K_SELECTSTMT, 0 },
	{ "targetList", 0, K_TARGETLIST, 0 },
	{ "fromClause", 0, K_FROMCLAUSE, 0 },
	{ "valuesLists", 0, K_VALUESLISTS, 0 },
	{ "renameType", 0, K_RENAMETYPE, 0 },
	{ "base", 0, K_BASE, 0 },
	{ "larg", 0, K_LARG, 0 },
	{ "rarg", 0, K_RARG, 0 },
};

/* One static open-addressing table for both type and field names, built once. */
#define WTAB_BITS 9
#define WTAB_SIZE (1u << WTAB_BITS)
static struct {
	const struct word *w;
	uint8_t len;
} wtab[WTAB_SIZE];
static pthread_once_t wtab_once = PTHREAD_ONCE_INIT;

static inline uint32_t whash_step(uint32_t h, unsigned char ch)
{
	return (h ^ ch) * 16777619u;
}

static void wtab_add(const struct word *w)
{
	uint32_t h = 2166136261u;
	size_t n = strlen(w->s);
	for (size_t i = 0; i < n; i++)
		h = whash_step(h, (unsigned char)w->s[i]);
	for (uint32_t i = h & (WTAB_SIZE - 1);; i = (i + 1) & (WTAB_SIZE - 1)) {
		if (!wtab[i].w) {
			wtab[i].w = w;
			wtab[i].len = (uint8_t)n;
			return;
		}
	}
}

static void wtab_init(void)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		wtab_add(&types[i]);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		wtab_add(&keys[i]);
}

static const struct word *wtab_find(const char *s, size_t n, uint32_t h)
{
	for (uint32_t i = h & (WTAB_SIZE - 1);; i = (i + 1) & (WTAB_SIZE - 1)) {
		const struct word *w = wtab[i].w;
		if (!w)
			return NULL;
		if (wtab[i].len == n && memcmp(w->s, s, n) == 0)
			return w;
	}
}

/* A table or function name set with a hash index for deduplication. */
struct nameset {
	struct rg_sql_name *v;
	uint32_t *hash;
	size_t n, cap;
	uint32_t *slot;	/* 0 empty, else index + 1 */
	size_t nslot;	/* power of two, >= 2 * cap */
};

struct frame {
	uint8_t is_arr;
	uint8_t type;	/* objects: own node type */
	uint8_t ptype;	/* type of the enclosing typed node */
	uint8_t pkey;	/* key under which this container sits in that node */
	uint8_t key;	/* objects: current key */
	uint8_t key_type; /* objects: current key is a type name; its type */
	uint8_t mode;	/* arrays: what String elements are collected for */
	uint8_t nstr;	/* arrays: String elements collected */
	uint16_t flags;
	uint32_t nelem;	/* arrays: elements seen */
	uint32_t aux;	/* table index / pending mark / statement location */
	uint64_t key_ops; /* objects: ops of the pending type key */
	const char *s1, *s2; /* RangeVar schemaname/relname; collected names */
	int32_t loc, len;
};

enum {
	F_RELNAME = 1 << 0,
	F_WHERE = 1 << 1,
	F_IS_FROM = 1 << 2,
	F_IS_PROGRAM = 1 << 3,
	F_FILENAME = 1 << 4,
	F_IS_GRANT = 1 << 5,
	F_RETURNING = 1 << 6,
	F_ONCONFLICT = 1 << 7,
	F_TARGET = 1 << 8,
	F_VALUES = 1 << 9,
	F_HASREL = 1 << 10,
	F_DROPREL = 1 << 11,	/* DROP TABLE/VIEW/...: each name is a relation */
	F_DROPSUB = 1 << 12,	/* DROP TRIGGER/RULE/POLICY x ON rel */
};

enum { M_NONE = 0, M_FUNCNAME, M_FIELDS, M_INDIR, M_DROPNAME };

struct stmtpos {
	int32_t loc, len;
};

struct rg_sqlclass {
	char *in;		/* NUL-terminated copy of the input */
	size_t in_cap;
	PgQueryParseResult parse; /* kept: names point into parse.parse_tree */
	bool have_parse;
	PgQueryNormalizeResult norm;
	bool have_norm;

	struct frame *fr;
	size_t fr_cap;
	const char **coll;	/* String elements collected by arrays in M_* modes */
	size_t coll_n, coll_cap;
	const char **pend;	/* DROP names awaiting removeType: (schema, name) pairs */
	size_t pend_n, pend_cap;
	struct stmtpos *stmts;
	size_t stmts_n, stmts_cap;
	uint64_t *fps;
	size_t fps_cap;

	struct nameset tables, funcs;

	uint64_t ops, ops_nowhere;

	char *names;		/* fast path: table and function names, copied out of the tree */
	size_t names_cap;
	char *json;		/* fast path declined: the tree printed, for the JSON walker */
	size_t json_cap;
	bool last_fast;		/* the last run was answered by the fast path */

	struct rg_sql_prep *prep; /* rg_sqlclass_prep: the effects, names as offsets first */
	size_t prep_n, prep_cap;
	char *prep_names;
	size_t prep_names_n, prep_names_cap;

	void *bigstack;		/* helper thread stack, mapped on first big input */

	struct shape_cache *shapes; /* validate-only answers by statement shape, on first use */
	struct norm_cache *norms;   /* rg_sqlclass_normalize's outputs, on first use */
	bool last_shape_hit;	/* the last run was answered by it */
	bool last_lit_hit;	/* ... by its literal keys, without the scanner */
};

static int grow(void *pp, size_t *cap, size_t need, size_t elsz)
{
	void **p = pp;
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elsz);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static uint32_t name_hash(const char *schema, const char *name)
{
	uint32_t h = 2166136261u;
	if (schema)
		for (const char *s = schema; *s; s++)
			h = whash_step(h, (unsigned char)*s);
	h = whash_step(h, 0xff);
	for (const char *s = name; *s; s++)
		h = whash_step(h, (unsigned char)*s);
	return h;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static void nameset_reset(struct nameset *s)
{
	if (s->n)
		memset(s->slot, 0, s->nslot * sizeof(*s->slot));
	s->n = 0;
}

/* Adds (schema, name) or ORs access into an existing entry; returns its index or -ENOMEM. */
static long nameset_add(struct nameset *s, const char *schema, const char *name, uint8_t access)
{
	uint32_t h = name_hash(schema, name);
	if (s->nslot) {
		for (size_t i = h & (s->nslot - 1);; i = (i + 1) & (s->nslot - 1)) {
			uint32_t k = s->slot[i];
			if (!k)
				break;
			struct rg_sql_name *e = &s->v[k - 1];
			if (s->hash[k - 1] == h && strcmp(e->name, name) == 0 &&
			    str_eq(e->schema, schema)) {
				e->access |= access;
				return (long)(k - 1);
			}
		}
	}
	if (s->n == s->cap) {
		size_t cap = s->cap;
		if (grow(&s->v, &cap, s->n + 1, sizeof(*s->v)))
			return -ENOMEM;
		size_t hcap = s->cap;
		if (grow(&s->hash, &hcap, cap, sizeof(*s->hash)))
			return -ENOMEM;
		s->cap = cap;
		size_t nslot = cap * 2;
		if (nslot > s->nslot) {
			uint32_t *slot = calloc(nslot, sizeof(*slot));
			if (!slot)
				return -ENOMEM;
			free(s->slot);
			s->slot = slot;
			s->nslot = nslot;
			for (size_t k = 0; k < s->n; k++) {
				size_t i = s->hash[k] & (nslot - 1);
				while (slot[i])
					i = (i + 1) & (nslot - 1);
				slot[i] = (uint32_t)(k + 1);
			}
		}
	}
	size_t k = s->n++;
	s->v[k] = (struct rg_sql_name){ .schema = schema, .name = name, .access = access };
	s->hash[k] = h;
	size_t i = h & (s->nslot - 1);
	while (s->slot[i])
		i = (i + 1) & (s->nslot - 1);
	s->slot[i] = (uint32_t)(k + 1);
	return (long)k;
}

static void nameset_free(struct nameset *s)
{
	free(s->v);
	free(s->hash);
	free(s->slot);
}

/* Set once per process by the fast path's canary (sqlclass_raw.c). */
static bool raw_enabled;
static bool shape_enabled; /* the scanner's token numbers passed their canary too */

/*
 * The validate-only cache. Under `on_unparseable: deny` every statement no rule can match
 * is still parsed, only to prove that it parses; clients that send a new literal each time
 * (pgbench -S, any driver that inlines values) never repeat a text, so the verdict cache
 * cannot help. The answer to "does it parse" depends on the tokens PostgreSQL's scanner
 * makes of the string, and on the values of its constants only where the grammar looks at
 * them: a statement's shape (sqlclass_raw.c: the scanner's tokens, constants reduced to
 * their kind) is cached once a parse has shown that it parses AND that the grammar took
 * every constant as a plain value (rg_sqlraw_validate_shape); every later string of that
 * shape parses too and is not parsed again. Only successes are kept: a string that fails
 * is parsed every time. Entries hold the whole shape and are compared byte for byte (a
 * hash collision cannot answer for another shape). Direct-mapped, per context.
 */
#define SHAPE_SLOTS 256
#define SHAPE_MAX 384		/* shape bytes kept; longer shapes are not cached */
#define SHAPE_MAX_INPUT 2048	/* longer strings are parsed as before */
#define SHAPE_MAX_CONSTS 64

struct shape_entry {
	uint64_t key;		/* 0: empty */
	uint32_t len;
	uint32_t nstmts;
	uint8_t shape[SHAPE_MAX];
};

/*
 * In front of it, the same answer without the scanner for a string that differs from one
 * already answered only in the digits of its integer constants (pgbench -S, drivers that
 * inline ids): the string with every run of 1..9 digits that stands alone (no letter, digit,
 * '_', '$', '.' or byte >= 0x80 on either side) cut out to a NUL, its "literal key", is kept
 * once the scanner has shown each such run to be exactly one integer constant (an ICONST
 * token at the run's first byte) of a shape the cache answers. Why another string with that
 * key has the same shape: up to the first run the bytes are the same, so the scanner is in
 * the same state there (it started an ICONST at that byte); a run of digits followed by the
 * same byte, which can extend no number (not '.', 'e', a letter or '_'), is one ICONST
 * whatever its digits, and 9 digits always fit an int4 (a longer one would be a numeric
 * constant); the scanner is back in its first state after it, and so on to the end. NULs
 * cannot be confused with a cut: rg_sqlclass_run refuses a string that holds one. Keys are
 * compared byte for byte.
 */
#define LIT_SLOTS 128
#define LIT_MAX 256	/* literal keys kept; longer strings go to the scanner */
#define LIT_RUN_MAX 9

struct lit_entry {
	uint64_t key;		/* 0: empty */
	uint32_t len;
	uint32_t nstmts;
	char text[LIT_MAX];
};

struct shape_cache {
	uint64_t seed;
	uint8_t cur[SHAPE_MAX];
	int32_t locs[SHAPE_MAX_CONSTS];
	struct shape_entry e[SHAPE_SLOTS];
	char lit[LIT_MAX];		/* this string's literal key */
	int32_t runs[SHAPE_MAX_CONSTS]; /* where its runs cut out start */
	struct lit_entry l[LIT_SLOTS];
};

static void sqlclass_init(void)
{
	wtab_init();
	raw_enabled = rg_sqlraw_canary();
	shape_enabled = raw_enabled && rg_sqlraw_shape_canary();
}

struct rg_sqlclass *rg_sqlclass_new(void)
{
	pthread_once(&wtab_once, sqlclass_init);
	return calloc(1, sizeof(struct rg_sqlclass));
}

bool rg_sqlclass_fast_enabled(void)
{
	pthread_once(&wtab_once, sqlclass_init);
	return raw_enabled;
}

bool rg_sqlclass_last_was_fast(const struct rg_sqlclass *c)
{
	return c->last_fast;
}

bool rg_sqlclass_last_was_shape_hit(const struct rg_sqlclass *c)
{
	return c->last_shape_hit;
}

bool rg_sqlclass_last_was_literal_hit(const struct rg_sqlclass *c)
{
	return c->last_lit_hit;
}

static void release_results(struct rg_sqlclass *c)
{
	if (c->have_parse)
		pg_query_free_parse_result(c->parse);
	if (c->have_norm)
		pg_query_free_normalize_result(c->norm);
	c->have_parse = c->have_norm = false;
}

void rg_sqlclass_free(struct rg_sqlclass *c)
{
	if (!c)
		return;
	release_results(c);
	free(c->in);
	free(c->fr);
	free(c->coll);
	free(c->pend);
	free(c->stmts);
	free(c->fps);
	free(c->names);
	free(c->json);
	free(c->prep);
	free(c->prep_names);
	nameset_free(&c->tables);
	nameset_free(&c->funcs);
	if (c->bigstack)
		munmap(c->bigstack, BIG_STACK);
	free(c->shapes);
	free(c->norms);
	free(c);
}

/* ---- what the fast path reports (sqlclass_raw.h) ------------------------------------ */

int rg_sqlclass_note_table(struct rg_sqlclass *c, const char *schema, const char *name,
			   uint8_t access)
{
	long r = nameset_add(&c->tables, schema, name, access);
	return r < 0 ? (int)r : 0;
}

int rg_sqlclass_note_func(struct rg_sqlclass *c, const char *schema, const char *name)
{
	long r = nameset_add(&c->funcs, schema, name, 0);
	return r < 0 ? (int)r : 0;
}

int rg_sqlclass_note_stmt(struct rg_sqlclass *c, int32_t loc, int32_t len)
{
	if (grow(&c->stmts, &c->stmts_cap, c->stmts_n + 1, sizeof(*c->stmts)))
		return -ENOMEM;
	c->stmts[c->stmts_n++] = (struct stmtpos){ loc, len };
	return 0;
}

static char *keep_one(char **d, const char *s)
{
	if (!s)
		return NULL;
	char *r = *d;
	size_t n = strlen(s) + 1;
	memcpy(r, s, n);
	*d += n;
	return r;
}

/* Copies every noted name into c->names (reused across calls): the parse tree they point
 * into is freed when the fast path returns, and names must live until the next call. */
int rg_sqlclass_keep_names(struct rg_sqlclass *c)
{
	struct nameset *sets[2] = { &c->tables, &c->funcs };
	size_t need = 1;

	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sets[k]->n; i++) {
			const struct rg_sql_name *e = &sets[k]->v[i];
			need += strlen(e->name) + 1 + (e->schema ? strlen(e->schema) + 1 : 0);
		}
	if (grow(&c->names, &c->names_cap, need, 1))
		return -ENOMEM;
	char *d = c->names;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sets[k]->n; i++) {
			struct rg_sql_name *e = &sets[k]->v[i];
			e->schema = keep_one(&d, e->schema);
			e->name = keep_one(&d, e->name);
		}
	return 0;
}

/* Copies a declined string's printed tree into c->json (reused across calls). */
int rg_sqlclass_keep_json(struct rg_sqlclass *c, const char *json)
{
	size_t n = strlen(json) + 1;
	if (grow(&c->json, &c->json_cap, n, 1))
		return -ENOMEM;
	memcpy(c->json, json, n);
	return 0;
}

int rg_sqlclass_note_prep(struct rg_sqlclass *c, int kind, const char *name, int32_t loc,
			  int32_t len, unsigned stmt)
{
	size_t nl = name ? strlen(name) : 0;

	if (grow(&c->prep, &c->prep_cap, c->prep_n + 1, sizeof(*c->prep)) ||
	    grow(&c->prep_names, &c->prep_names_cap, c->prep_names_n + nl + 1, 1))
		return -ENOMEM;
	/* name holds an offset into prep_names until the list is complete (it may move) */
	c->prep[c->prep_n++] = (struct rg_sql_prep){
		.kind = (enum rg_sql_prep_kind)kind,
		.name = name ? (const char *)(uintptr_t)(c->prep_names_n + 1) : NULL,
		.name_len = nl,
		.off = (size_t)loc,
		.len = (size_t)len,
		.stmt = stmt,
	};
	if (name)
		memcpy(c->prep_names + c->prep_names_n, name, nl + 1);
	c->prep_names_n += name ? nl + 1 : 0;
	return 0;
}

/* ---- the walk ------------------------------------------------------------------------ */

/* Walk result codes: 0 ok, WALK_BAD malformed or too deep (fail closed), -ENOMEM. */
#define WALK_BAD 1

static inline const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hexval(p[i]);
		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

/* p is just past the opening quote. Skips the string; returns past the closing quote. */
static char *skip_string(char *p)
{
	for (;;) {
		char ch = *p;
		if (ch == '"')
			return p + 1;
		if (ch == '\\') {
			if (!p[1])
				return NULL;
			p += 2;
			continue;
		}
		if (!ch)
			return NULL;
		p++;
	}
}

/* p is just past the opening quote. Decodes the string in place starting at p and
 * NUL-terminates it; returns past the closing quote, or NULL if malformed or if it decodes
 * to a NUL byte (PostgreSQL names never hold one). */
static char *decode_string(char *p)
{
	char *d = p;
	for (;;) {
		char ch = *p;
		if (ch == '"') {
			*d = '\0';
			return p + 1;
		}
		if (!ch)
			return NULL;
		if (ch != '\\') {
			*d++ = ch;
			p++;
			continue;
		}
		ch = p[1];
		p += 2;
		switch (ch) {
		case '"':
		case '\\':
		case '/':
			*d++ = ch;
			break;
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u': {
			uint32_t u;
			if (!hex4(p, &u))
				return NULL;
			p += 4;
			if (u >= 0xd800 && u < 0xdc00) {
				uint32_t lo;
				if (p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) || lo < 0xdc00 ||
				    lo > 0xdfff)
					return NULL;
				p += 6;
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return NULL;
			}
			/* The escape is 6 or 12 bytes; UTF-8 needs at most 4: d stays behind p. */
			if (u == 0)
				return NULL;
			if (u < 0x80) {
				*d++ = (char)u;
			} else if (u < 0x800) {
				*d++ = (char)(0xc0 | u >> 6);
				*d++ = (char)(0x80 | (u & 0x3f));
			} else if (u < 0x10000) {
				*d++ = (char)(0xe0 | u >> 12);
				*d++ = (char)(0x80 | ((u >> 6) & 0x3f));
				*d++ = (char)(0x80 | (u & 0x3f));
			} else {
				*d++ = (char)(0xf0 | u >> 18);
				*d++ = (char)(0x80 | ((u >> 12) & 0x3f));
				*d++ = (char)(0x80 | ((u >> 6) & 0x3f));
				*d++ = (char)(0x80 | (u & 0x3f));
			}
			break;
		}
		default:
			return NULL;
		}
	}
}

/* Node type and ops of a {"Name": ...} key that is not in the exact table. */
static uint8_t type_by_shape(const char *s, size_t n, uint64_t *ops)
{
	*ops = 0;
	if (n < 5 || memcmp(s + n - 4, "Stmt", 4) != 0)
		return T_NONE;
	if (n > 6 && memcmp(s, "Create", 6) == 0)
		*ops = OPB(CREATE);
	else if (n > 4 && memcmp(s, "Drop", 4) == 0)
		*ops = OPB(DROP);
	else if (n > 5 && memcmp(s, "Alter", 5) == 0)
		*ops = OPB(ALTER);
	else
		*ops = OPB(OTHER);
	return T_STMT;
}

static bool write_key(uint8_t k)
{
	return k == K_RELATION || k == K_RELATIONS || k == K_VIEW || k == K_SEQUENCE ||
	       k == K_TABLE || k == K_REL;
}

/* Access of a RangeVar found at (ptype, pkey). 0 means "decided later by the parent". */
static uint8_t rangevar_access(uint8_t ptype, uint8_t pkey)
{
	if (!write_key(pkey))
		return RG_ACCESS_READ;
	switch (ptype) {
	case T_UPDATE:
	case T_DELETE:
	case T_MERGE:
		/* WHERE and RETURNING read the target too. */
		return RG_ACCESS_READ | RG_ACCESS_WRITE;
	case T_INSERT:
	case T_COPY:
		return 0;
	case T_INTO:
	case T_RENAME:
	case T_WREL:
		return RG_ACCESS_WRITE;
	default:
		return RG_ACCESS_READ;
	}
}

static bool is_relation_drop(const char *v)
{
	static const char *const rel[] = { "OBJECT_TABLE",	  "OBJECT_VIEW",  "OBJECT_MATVIEW",
					   "OBJECT_SEQUENCE",	  "OBJECT_INDEX", "OBJECT_FOREIGN_TABLE",
					   NULL };
	for (int i = 0; rel[i]; i++)
		if (strcmp(v, rel[i]) == 0)
			return true;
	return false;
}

static bool is_sub_drop(const char *v)
{
	return strcmp(v, "OBJECT_TRIGGER") == 0 || strcmp(v, "OBJECT_RULE") == 0 ||
	       strcmp(v, "OBJECT_POLICY") == 0;
}

static int push_coll(struct rg_sqlclass *c, const char *s)
{
	if (grow(&c->coll, &c->coll_cap, c->coll_n + 1, sizeof(*c->coll)))
		return -ENOMEM;
	c->coll[c->coll_n++] = s;
	return 0;
}

/* Emits the function named by the last one or two of n collected strings. */
static int emit_func(struct rg_sqlclass *c, const char *const *v, size_t n)
{
	if (n == 0)
		return 0;
	long r = nameset_add(&c->funcs, n >= 2 ? v[n - 2] : NULL, v[n - 1], 0);
	return r < 0 ? (int)r : 0;
}

/* A String element of an array in a collecting mode. */
static int on_string_elem(struct rg_sqlclass *c, struct frame *arr, const char *s)
{
	switch (arr->mode) {
	case M_FUNCNAME:
	case M_FIELDS:
	case M_DROPNAME:
		arr->nstr++;
		return push_coll(c, s);
	case M_INDIR:
		/* (x).f may be f(x): see on_array_close(). */
		return emit_func(c, &s, 1);
	}
	return 0;
}

static int on_array_close(struct rg_sqlclass *c, struct frame *arr, struct frame *obj)
{
	/* c->coll is NULL until the first collected string: no pointer arithmetic on it */
	const char **v = c->coll ? c->coll + arr->aux : NULL;
	size_t n = c->coll_n - arr->aux;
	int rc = 0;

	switch (arr->mode) {
	case M_FUNCNAME:
		rc = emit_func(c, v, n);
		break;
	case M_FIELDS:
		/*
		 * PostgreSQL reads x.f as f(x) when x is a row value and no column f exists
		 * (attribute notation), so a.b, a.b.c, ... may call a function named by the
		 * last field: report it. The parser cannot know which it is; reporting is the
		 * sound choice for deny rules, and a column name that matches a function rule
		 * is the rare, visible false positive. A one-field reference is never a call,
		 * nor is a trailing '*'.
		 */
		if (n >= 2 && n == arr->nelem)
			rc = emit_func(c, v + n - 1, 1);
		break;
	case M_DROPNAME:
		/* obj is the List; the DropStmt decides at its close which names count. */
		if (n > 0 && n == arr->nelem) {
			if (grow(&c->pend, &c->pend_cap, c->pend_n + 3, sizeof(*c->pend)))
				return -ENOMEM;
			c->pend[c->pend_n++] = n >= 3 ? v[n - 3] : NULL;
			c->pend[c->pend_n++] = n >= 2 ? v[n - 2] : NULL;
			c->pend[c->pend_n++] = v[n - 1];
		}
		break;
	}
	(void)obj;
	c->coll_n = arr->aux;
	return rc;
}

static int on_object_close(struct rg_sqlclass *c, struct frame *f, struct frame *parent)
{
	if (f->flags & F_RELNAME) {
		uint8_t acc = rangevar_access(f->ptype, f->pkey);
		long idx = nameset_add(&c->tables, f->s1, f->s2, acc);
		if (idx < 0)
			return (int)idx;
		if (!acc && parent && !parent->is_arr) {
			parent->aux = (uint32_t)idx;
			parent->flags |= F_HASREL;
		}
	}

	switch (f->type) {
	case T_SELECT:
		/* INSERT ... VALUES is an insert, not a query. */
		if (!(f->ptype == T_INSERT && f->pkey == K_SELECTSTMT && (f->flags & F_VALUES) &&
		      !(f->flags & F_TARGET)))
			c->ops |= OPB(SELECT);
		break;
	case T_UPDATE:
		if (!(f->flags & F_WHERE))
			c->ops_nowhere |= OPB(UPDATE);
		break;
	case T_DELETE:
		if (!(f->flags & F_WHERE))
			c->ops_nowhere |= OPB(DELETE);
		break;
	case T_INSERT:
		if (f->flags & F_HASREL)
			c->tables.v[f->aux].access |=
				RG_ACCESS_WRITE |
				(f->flags & (F_RETURNING | F_ONCONFLICT) ? RG_ACCESS_READ : 0);
		break;
	case T_COPY:
		if (f->flags & F_IS_PROGRAM)
			c->ops |= OPB(COPY_PROGRAM);
		else if (f->flags & F_FILENAME)
			c->ops |= f->flags & F_IS_FROM ? OPB(COPY_FROM_FILE) : OPB(COPY_TO_FILE);
		else
			c->ops |= f->flags & F_IS_FROM ? OPB(COPY_FROM_STDIN) : OPB(COPY_TO_STDOUT);
		if (f->flags & F_HASREL)
			c->tables.v[f->aux].access |=
				f->flags & F_IS_FROM ? RG_ACCESS_WRITE : RG_ACCESS_READ;
		break;
	case T_GRANT:
		c->ops |= f->flags & F_IS_GRANT ? OPB(GRANT) : OPB(REVOKE);
		break;
	case T_DROP:
		for (size_t i = f->aux; i + 3 <= c->pend_n; i += 3) {
			const char *schema = NULL, *name = NULL;
			if (f->flags & F_DROPREL) {
				schema = c->pend[i + 1];
				name = c->pend[i + 2];
			} else if (f->flags & F_DROPSUB) {
				schema = c->pend[i];
				name = c->pend[i + 1];
			}
			if (name && nameset_add(&c->tables, schema, name, RG_ACCESS_WRITE) < 0)
				return -ENOMEM;
		}
		c->pend_n = f->aux;
		break;
	case T_RAWSTMT:
		if (grow(&c->stmts, &c->stmts_cap, c->stmts_n + 1, sizeof(*c->stmts)))
			return -ENOMEM;
		c->stmts[c->stmts_n++] = (struct stmtpos){ f->loc, f->len };
		break;
	}
	return 0;
}

/* A type key {"Name": ...} was read inside object f: ops that need no later field. */
static void on_type_key(struct rg_sqlclass *c, struct frame *f)
{
	c->ops |= f->key_ops;
	if (f->key_type == T_VARSET && f->ptype == T_RAWSTMT)
		c->ops |= OPB(SET); /* not ALTER ROLE/SYSTEM ... SET nor a function's SET */
}

/* A field key was read inside object f. */
static void on_field_key(struct rg_sqlclass *c, struct frame *f)
{
	switch (f->key) {
	case K_WHERECLAUSE:
		f->flags |= F_WHERE;
		break;
	case K_RETURNING:
		f->flags |= F_RETURNING;
		break;
	case K_ONCONFLICT:
		f->flags |= F_ONCONFLICT;
		break;
	case K_TARGETLIST:
	case K_FROMCLAUSE:
		f->flags |= F_TARGET;
		break;
	case K_VALUESLISTS:
		f->flags |= F_VALUES;
		break;
	case K_INTOCLAUSE:
		if (f->type == T_SELECT)
			c->ops |= OPB(CREATE); /* SELECT ... INTO creates a table */
		break;
	}
}

/* Types implied by a key for structs printed without a type wrapper. */
static uint8_t implied_type(uint8_t key)
{
	switch (key) {
	case K_ACTION:
		return T_GRANT; /* AlterDefaultPrivilegesStmt's GrantStmt */
	case K_INTOCLAUSE:
	case K_INTO:
		return T_INTO;
	case K_FUNCCALL:
		return T_FUNCCALL;
	case K_ONCONFLICT:
		return T_ONCONFLICT;
	case K_BASE:
		return T_WREL; /* CreateForeignTableStmt's CreateStmt */
	}
	return T_NONE;
}

static uint8_t array_mode(const struct frame *obj)
{
	switch (obj->key) {
	case K_FUNCNAME:
		return obj->type == T_CREATEFUNC ? M_NONE : M_FUNCNAME;
	case K_FIELDS:
		return obj->type == T_COLUMNREF ? M_FIELDS : M_NONE;
	case K_INDIRECTION:
		return obj->type == T_AINDIR ? M_INDIR : M_NONE;
	case K_ITEMS:
		return obj->type == T_LIST && obj->ptype == T_DROP && obj->pkey == K_OBJECTS
			       ? M_DROPNAME
			       : M_NONE;
	}
	return M_NONE;
}

static bool parse_int(char **pp, int32_t *out)
{
	char *p = *pp;
	bool neg = *p == '-';
	int64_t v = 0;
	if (neg)
		p++;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > INT32_MAX)
			return false;
		p++;
	}
	*out = (int32_t)(neg ? -v : v);
	*pp = p;
	return true;
}

/* A string value for the current key of object f; p just past the opening quote. */
static char *on_string_value(struct rg_sqlclass *c, struct frame *f, char *p, int *rc)
{
	char *s = p;
	switch (f->key) {
	case K_RELNAME:
	case K_SCHEMANAME:
		p = decode_string(p);
		if (p && f->key == K_RELNAME) {
			f->s2 = s;
			f->flags |= F_RELNAME;
		} else if (p) {
			f->s1 = s;
		}
		return p;
	case K_SVAL:
		if (f->type != T_STRING)
			break;
		p = decode_string(p);
		if (p && f >= c->fr + 2 && f[-2].is_arr && f[-2].mode)
			*rc = on_string_elem(c, &f[-2], s);
		return p;
	case K_REMOVETYPE:
	case K_COMMANDTYPE:
	case K_ACTION:
	case K_RENAMETYPE:
		p = decode_string(p);
		if (!p)
			return NULL;
		if (f->type == T_DROP && f->key == K_REMOVETYPE) {
			if (is_relation_drop(s))
				f->flags |= F_DROPREL;
			else if (is_sub_drop(s))
				f->flags |= F_DROPSUB;
		} else if (f->type == T_MERGEWHEN && f->key == K_COMMANDTYPE) {
			if (strcmp(s, "CMD_INSERT") == 0)
				c->ops |= OPB(INSERT);
			else if (strcmp(s, "CMD_UPDATE") == 0)
				c->ops |= OPB(UPDATE);
			else if (strcmp(s, "CMD_DELETE") == 0)
				c->ops |= OPB(DELETE);
		} else if (f->type == T_ONCONFLICT && f->key == K_ACTION) {
			if (strcmp(s, "ONCONFLICT_UPDATE") == 0)
				c->ops |= OPB(UPDATE);
		} else if (f->type == T_RENAME && f->key == K_RENAMETYPE) {
			if (strcmp(s, "OBJECT_ROLE") == 0)
				c->ops |= OPB(ALTER_ROLE);
		}
		return p;
	case K_FILENAME:
		if (f->type == T_COPY)
			f->flags |= F_FILENAME;
		break;
	}
	return skip_string(p);
}

static void on_bool_value(struct frame *f, bool v)
{
	if (!v)
		return;
	switch (f->key) {
	case K_IS_FROM:
		if (f->type == T_COPY)
			f->flags |= F_IS_FROM;
		break;
	case K_IS_PROGRAM:
		if (f->type == T_COPY)
			f->flags |= F_IS_PROGRAM;
		break;
	case K_IS_GRANT:
		if (f->type == T_GRANT)
			f->flags |= F_IS_GRANT;
		break;
	}
}

/* Opens a container at depth top+1 under frame parent (NULL for the root). */
static int push_frame(struct rg_sqlclass *c, size_t *top, bool is_arr)
{
	size_t d = *top + 1;
	if (d >= MAX_DEPTH)
		return WALK_BAD;
	if (grow(&c->fr, &c->fr_cap, d + 1, sizeof(*c->fr)))
		return -ENOMEM;
	struct frame *f = &c->fr[d];
	memset(f, 0, sizeof(*f));
	f->is_arr = is_arr;
	if (d > 0) {
		struct frame *p = &c->fr[d - 1];
		if (p->is_arr) {
			f->ptype = p->ptype;
			f->pkey = p->pkey;
			if (!is_arr)
				f->type = d == 2 && p->pkey == K_STMTS ? T_RAWSTMT
								      : implied_type(p->pkey);
		} else if (p->key_type) {
			f->type = p->key_type;
			f->ptype = p->ptype;
			f->pkey = p->pkey;
		} else {
			f->ptype = p->type;
			f->pkey = p->key;
			if (!is_arr)
				f->type = implied_type(p->key);
			/* a set operation's arms are SelectStmts printed without a type wrapper;
			 * SELECT ... INTO in the first arm creates the table */
			if (!is_arr && p->type == T_SELECT && (p->key == K_LARG || p->key == K_RARG))
				f->type = T_SELECT;
		}
		if (is_arr && !p->is_arr) {
			f->mode = array_mode(p);
			f->aux = (uint32_t)c->coll_n;
		}
		if (!is_arr && f->type == T_DROP)
			f->aux = (uint32_t)c->pend_n;
	}
	*top = d;
	return 0;
}

/* Walks the JSON text at p (NUL-terminated, modified in place). */
static int walk(struct rg_sqlclass *c, char *p)
{
	size_t top = (size_t)-1; /* index of the innermost open container */
	struct frame *f;
	int rc;

	p = (char *)skip_ws(p);
	if (*p != '{')
		return WALK_BAD;
	p++;
	rc = push_frame(c, &top, false);
	if (rc)
		return rc;
	goto obj_first;

value:
	p = (char *)skip_ws(p);
	f = &c->fr[top];
	switch (*p) {
	case '{':
		p++;
		rc = push_frame(c, &top, false);
		if (rc)
			return rc;
		goto obj_first;
	case '[':
		p++;
		rc = push_frame(c, &top, true);
		if (rc)
			return rc;
		goto arr_first;
	case '"':
		rc = 0;
		if (f->is_arr || f->key_type)
			p = skip_string(p + 1);
		else
			p = on_string_value(c, f, p + 1, &rc);
		if (!p)
			return WALK_BAD;
		if (rc)
			return rc;
		goto after;
	case 't':
		if (strncmp(p, "true", 4) != 0)
			return WALK_BAD;
		p += 4;
		if (!f->is_arr)
			on_bool_value(f, true);
		goto after;
	case 'f':
		if (strncmp(p, "false", 5) != 0)
			return WALK_BAD;
		p += 5;
		goto after;
	case 'n':
		if (strncmp(p, "null", 4) != 0)
			return WALK_BAD;
		p += 4;
		goto after;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9')) {
			if (!f->is_arr && f->type == T_RAWSTMT &&
			    (f->key == K_STMT_LOCATION || f->key == K_STMT_LEN)) {
				int32_t v;
				if (!parse_int(&p, &v) || v < 0)
					return WALK_BAD;
				if (f->key == K_STMT_LOCATION)
					f->loc = v;
				else
					f->len = v;
			} else {
				p++;
				while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
				       *p == 'E' || *p == '+' || *p == '-')
					p++;
			}
			goto after;
		}
		return WALK_BAD;
	}

obj_first:
	p = (char *)skip_ws(p);
	if (*p == '}') {
		p++;
		goto close_obj;
	}
	/* fall through */
key: {
	p = (char *)skip_ws(p);
	if (*p != '"')
		return WALK_BAD;
	const char *k = ++p;
	uint32_t h = 2166136261u;
	while (*p != '"') {
		/* libpg_query field and type names are plain identifiers */
		if (!*p || *p == '\\')
			return WALK_BAD;
		h = whash_step(h, (unsigned char)*p);
		p++;
	}
	size_t kn = (size_t)(p - k);
	p = (char *)skip_ws(p + 1);
	if (*p != ':')
		return WALK_BAD;
	p++;
	f = &c->fr[top];
	const struct word *w = wtab_find(k, kn, h);
	f->key = K_NONE;
	f->key_type = T_NONE;
	f->key_ops = 0;
	if (kn && *k >= 'A' && *k <= 'Z') {
		if (w) {
			f->key_type = w->type ? w->type : T_STMT;
			f->key_ops = w->ops;
		} else {
			uint8_t t = type_by_shape(k, kn, &f->key_ops);
			f->key_type = t ? t : T_STMT;
		}
		on_type_key(c, f);
	} else if (w) {
		f->key = w->key;
		on_field_key(c, f);
	}
	goto value;
}

arr_first:
	p = (char *)skip_ws(p);
	if (*p == ']') {
		p++;
		goto close_arr;
	}
	c->fr[top].nelem++;
	goto value;

after:
	if (top == (size_t)-1) {
		p = (char *)skip_ws(p);
		return *p ? WALK_BAD : 0;
	}
	p = (char *)skip_ws(p);
	f = &c->fr[top];
	if (f->is_arr) {
		if (*p == ',') {
			p++;
			f->nelem++;
			goto value;
		}
		if (*p == ']') {
			p++;
			goto close_arr;
		}
		return WALK_BAD;
	}
	if (*p == ',') {
		p++;
		goto key;
	}
	if (*p == '}') {
		p++;
		goto close_obj;
	}
	return WALK_BAD;

close_obj:
	f = &c->fr[top];
	rc = on_object_close(c, f, top > 0 ? &c->fr[top - 1] : NULL);
	if (rc)
		return rc;
	top--;
	goto after;

close_arr:
	f = &c->fr[top];
	if (f->mode) {
		rc = on_array_close(c, f, top > 0 ? &c->fr[top - 1] : NULL);
		if (rc)
			return rc;
	}
	top--;
	goto after;
}

/* ---- libpg_query calls, on a big stack when the input is large -------------------------- */

struct pg_job {
	struct rg_sqlclass *c;
	size_t len;
	unsigned what;	/* JOB_* */
	unsigned flags;
	int rc;
	bool fast;	/* JOB_PARSE: answered by the fast path, facts in raw */
	bool lexing;	/* JOB_LEXING: the string changes a pinned lexing setting */
	bool declined;	/* JOB_PARSE: the fast path declined, c->json holds the tree */
	struct rg_sqlraw_out raw;
};

#define JOB_PARSE 1u
#define JOB_EXTRAS 2u
#define JOB_VALIDATE 3u
#define JOB_LEXING 4u
#define JOB_PREP 5u

static void job_extras(struct pg_job *j)
{
	struct rg_sqlclass *c = j->c;

	if (j->flags & RG_SQLCLASS_FINGERPRINT) {
		for (size_t i = 0; i < c->stmts_n; i++) {
			size_t loc = (size_t)c->stmts[i].loc;
			size_t end = c->stmts[i].len ? loc + (size_t)c->stmts[i].len : j->len;
			if (loc > j->len || end > j->len || end < loc) {
				j->rc = WALK_BAD;
				return;
			}
			char saved = c->in[end];
			c->in[end] = '\0';
			PgQueryFingerprintResult fr = pg_query_fingerprint(c->in + loc);
			c->in[end] = saved;
			if (fr.error) {
				pg_query_free_fingerprint_result(fr);
				j->rc = WALK_BAD;
				return;
			}
			c->fps[i] = fr.fingerprint;
			pg_query_free_fingerprint_result(fr);
		}
	}
	if (j->flags & RG_SQLCLASS_NORMALIZE) {
		c->norm = pg_query_normalize(c->in);
		c->have_norm = true;
		if (c->norm.error || !c->norm.normalized_query)
			j->rc = WALK_BAD;
	}
}

/* Forgets whatever a declined fast path noted. */
static void reset_facts(struct rg_sqlclass *c)
{
	nameset_reset(&c->tables);
	nameset_reset(&c->funcs);
	c->coll_n = c->pend_n = c->stmts_n = 0;
	c->ops = c->ops_nowhere = 0;
}

static void job_run(struct pg_job *j)
{
	if (j->what == JOB_PARSE) {
		if (raw_enabled && !(j->flags & RG_SQLCLASS_FORCE_JSON)) {
			int rc = rg_sqlraw_classify(j->c, j->c->in, &j->raw);
			if (rc == RG_SQLRAW_OK || rc < 0) {
				j->fast = true;
				j->rc = rc;
				return;
			}
			if (rc == RG_SQLRAW_UNPARSEABLE) {
				/* the JSON path runs the same raw parser: it would fail too */
				j->fast = true;
				j->rc = WALK_BAD;
				return;
			}
			/* declined: the JSON walker reads the same tree, printed */
			reset_facts(j->c);
			j->declined = true;
			return;
		}
		j->c->parse = pg_query_parse(j->c->in);
		j->c->have_parse = true;
	} else if (j->what == JOB_VALIDATE && raw_enabled &&
		   !(j->flags & RG_SQLCLASS_FORCE_JSON)) {
		unsigned n = 0;
		j->rc = rg_sqlraw_validate(j->c->in, &n) == RG_SQLRAW_OK ? 0 : WALK_BAD;
		j->c->stmts_n = j->rc ? 0 : n;
	} else if (j->what == JOB_VALIDATE) {
		/* the raw parser alone: no parse tree printed as JSON, about a third of the cost */
		PgQuerySplitResult sr = pg_query_split_with_parser(j->c->in);
		j->rc = sr.error ? WALK_BAD : 0;
		j->c->stmts_n = sr.error ? 0 : (size_t)sr.n_stmts;
		pg_query_free_split_result(sr);
	} else if (j->what == JOB_LEXING) {
		j->lexing = rg_sqllex_changes(j->c->in);
	} else if (j->what == JOB_PREP) {
		j->rc = rg_sqlraw_prep(j->c, j->c->in);
	} else {
		job_extras(j);
	}
}

static void *job_thread(void *arg)
{
	job_run(arg);
	return NULL;
}

static int run_job(struct pg_job *j)
{
	struct rg_sqlclass *c = j->c;
	pthread_attr_t a;
	pthread_t t;
	int rc;

	if (j->len <= DIRECT_MAX) {
		job_run(j);
		return 0;
	}
	if (!c->bigstack) {
		void *s = mmap(NULL, BIG_STACK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (s == MAP_FAILED)
			return -ENOMEM;
		/* guard page: an overflow faults instead of running into other memory */
		mprotect(s, 4096, PROT_NONE);
		c->bigstack = s;
	}
	if (pthread_attr_init(&a))
		return -ENOMEM;
	rc = pthread_attr_setstack(&a, (char *)c->bigstack + 4096, BIG_STACK - 4096);
	if (!rc)
		rc = pthread_create(&t, &a, job_thread, j);
	pthread_attr_destroy(&a);
	if (rc)
		return -ENOMEM;
	pthread_join(t, NULL);
	/* give back what a deep parse committed */
	madvise((char *)c->bigstack + 4096, BIG_STACK - 4096, MADV_DONTNEED);
	return 0;
}

/* ---- entry point ------------------------------------------------------------------------ */

/* RG_OP_SET_LEXING from the facts: 1 certainly (pg_settings is written: its UPDATE rule calls
 * set_config with the row's name), -1 maybe (a SET or a set_config() call: lexing.c
 * decides), 0 not. */
static int lexing_from_facts(const struct rg_sqlclass *c)
{
	int maybe = (c->ops & OPB(SET)) ? -1 : 0;

	for (size_t i = 0; i < c->tables.n; i++)
		if ((c->tables.v[i].access & RG_ACCESS_WRITE) &&
		    strcmp(c->tables.v[i].name, "pg_settings") == 0)
			return 1;
	for (size_t i = 0; i < c->funcs.n && !maybe; i++)
		if (strcmp(c->funcs.v[i].name, "set_config") == 0)
			maybe = -1;
	return maybe;
}

static void unparseable(struct rg_sql_facts *out)
{
	*out = (struct rg_sql_facts){ .status = RG_SQL_UNPARSEABLE, .ops = OPB(UNKNOWN) };
}

unsigned rg_sqlclass_prep_words(const char *sql, size_t len)
{
	/* by first letter (either case); "de" and "di" share one */
	static const struct {
		const char *w;
		unsigned bit;
	} words[] = {
	    {"prepare", RG_SQL_PREP_WORD_PREPARE},
	    {"execute", RG_SQL_PREP_WORD_EXECUTE},
	    {"deallocate", RG_SQL_PREP_WORD_DEALLOCATE},
	    {"discard", RG_SQL_PREP_WORD_DISCARD},
	};
	static const uint8_t first[256] = {
	    ['p'] = 1, ['P'] = 1, ['e'] = 2, ['E'] = 2, ['d'] = 3, ['D'] = 3,
	};
	const uint8_t *p = (const uint8_t *)sql;
	unsigned found = 0;
	size_t i, n;
	unsigned k;

	for (i = 0; i + 7 <= len; i++) {
		if (!(k = first[p[i]]))
			continue;
		if (k == 3 && (p[i + 1] | 0x20) == 'i')
			k = 4;
		if ((p[i + 1] | 0x20) != (uint8_t)words[k - 1].w[1])
			continue;
		n = strlen(words[k - 1].w);
		if (n <= len - i && !strncasecmp(sql + i, words[k - 1].w, n))
			found |= words[k - 1].bit;
	}
	return found;
}

int rg_sqlclass_prep(struct rg_sqlclass *c, const char *sql, size_t len,
		     const struct rg_sql_prep **out, size_t *n)
{
	struct pg_job j = { .c = c, .what = JOB_PREP };
	int rc;

	*out = NULL;
	*n = 0;
	c->prep_n = c->prep_names_n = 0;
	if (!raw_enabled)
		return -ENOTSUP;
	/* as rg_sqlclass_run: trailing NULs end the text, an inner one hides what follows */
	while (len && sql[len - 1] == '\0')
		len--;
	if (len > RG_SQLCLASS_MAX_INPUT || (len && memchr(sql, '\0', len)))
		return RG_SQL_UNPARSEABLE;
	if (grow(&c->in, &c->in_cap, len + 1, 1))
		return -ENOMEM;
	if (len)
		memcpy(c->in, sql, len);
	c->in[len] = '\0';
	j.len = len;
	if ((rc = run_job(&j)))
		return rc;
	if (j.rc < 0)
		return j.rc;
	if (j.rc) {
		c->prep_n = 0;
		return RG_SQL_UNPARSEABLE;
	}
	for (size_t i = 0; i < c->prep_n; i++) {
		struct rg_sql_prep *e = &c->prep[i];
		if (e->name)
			e->name = c->prep_names + ((uintptr_t)e->name - 1);
		/* a statement length of 0: it runs to the end of the text */
		if (e->off > len || (e->len ? e->len > len - e->off : false))
			return RG_SQL_UNPARSEABLE;
		if (!e->len)
			e->len = len - e->off;
	}
	*out = c->prep;
	*n = c->prep_n;
	return 0;
}

static inline bool lit_glue(unsigned char b)
{
	return (b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') || b == '_' ||
	       b == '$' || b == '.' || b >= 0x80;
}

/* The literal key of sql[0..len) into sc->lit (*klen), the runs cut out into sc->runs
 * (*nruns). False: too long, or too many runs (no key). */
static bool lit_key(char *lit, int32_t *runs, const char *sql, size_t len, size_t *klen,
		    size_t *nruns)
{
	size_t i = 0, k = 0, n = 0;

	while (i < len) {
		unsigned char b = (unsigned char)sql[i];
		if (b >= '0' && b <= '9' && (i == 0 || !lit_glue((unsigned char)sql[i - 1]))) {
			size_t e = i;
			while (e < len && sql[e] >= '0' && sql[e] <= '9')
				e++;
			if (e - i <= LIT_RUN_MAX && (e == len || !lit_glue((unsigned char)sql[e]))) {
				if (n == SHAPE_MAX_CONSTS || k == LIT_MAX)
					return false;
				runs[n++] = (int32_t)i;
				lit[k++] = '\0';
				i = e;
				continue;
			}
			/* kept as they are: compared byte for byte */
			if (e - i > LIT_MAX - k)
				return false;
			memcpy(lit + k, sql + i, e - i);
			k += e - i;
			i = e;
			continue;
		}
		if (k == LIT_MAX)
			return false;
		lit[k++] = (char)b;
		i++;
	}
	*klen = k;
	*nruns = n;
	return true;
}

/* Every run cut out of the key is an ICONST the scanner started at its first byte. */
static bool lit_runs_iconst(const int32_t *runs, size_t nruns, const int32_t *locs,
			    size_t nlocs, uint64_t iconsts)
{
	size_t i = 0;

	for (size_t r = 0; r < nruns; r++) {
		while (i < nlocs && locs[i] < runs[r])
			i++;
		if (i == nlocs || locs[i] != runs[r] || !(iconsts >> i & 1))
			return false;
	}
	return true;
}

/* The validate-only question for c->in through the shape cache: 0 answered (out set),
 * 1 no shape (parse as before), or -ENOMEM. Inputs are short (SHAPE_MAX_INPUT): the scan
 * and the parse run on the caller's stack, as run_job does for them. */
static int validate_by_shape(struct rg_sqlclass *c, struct rg_sql_facts *out)
{
	struct shape_cache *sc = c->shapes;
	size_t len, nlocs;
	unsigned n = 0;
	bool cacheable;

	if (!sc) {
		sc = c->shapes = calloc(1, sizeof(*sc));
		if (!sc)
			return -ENOMEM;
		if (getrandom(&sc->seed, sizeof(sc->seed), 0) != sizeof(sc->seed))
			sc->seed = (uint64_t)(uintptr_t)sc ^ 0x9e3779b97f4a7c15ull;
	}
	size_t klen = 0, nruns = 0;
	uint64_t lkey = 0, iconsts = 0;
	struct lit_entry *le = NULL;
	if (lit_key(sc->lit, sc->runs, c->in, strlen(c->in), &klen, &nruns)) {
		lkey = XXH3_64bits_withSeed(sc->lit, klen, sc->seed ^ 0x6c6974) | 1;
		le = &sc->l[lkey % LIT_SLOTS];
		if (le->key == lkey && le->len == klen && !memcmp(le->text, sc->lit, klen)) {
			c->last_shape_hit = true;
			c->last_lit_hit = true;
			c->stmts_n = le->nstmts;
			*out = (struct rg_sql_facts){ .status = RG_SQL_OK, .nstmts = le->nstmts };
			return 0;
		}
	}
	if (rg_sqlraw_shape(c->in, sc->cur, sizeof(sc->cur), &len, sc->locs, SHAPE_MAX_CONSTS,
			    &nlocs, &iconsts) != RG_SQLRAW_OK)
		return 1;
	/* a string this shape answers for: its literal key answers from now on, when each run
	 * cut out of it is an integer constant */
	if (le && !lit_runs_iconst(sc->runs, nruns, sc->locs, nlocs, iconsts))
		le = NULL;
	uint64_t key = XXH3_64bits_withSeed(sc->cur, len, sc->seed) | 1;
	struct shape_entry *e = &sc->e[key % SHAPE_SLOTS];
	if (e->key == key && e->len == len && !memcmp(e->shape, sc->cur, len)) {
		c->last_shape_hit = true;
		c->stmts_n = e->nstmts;
		n = e->nstmts;
		goto ok;
	}
	if (rg_sqlraw_validate_shape(c->in, sc->locs, nlocs, &n, &cacheable) != RG_SQLRAW_OK) {
		unparseable(out);
		return 0;
	}
	if (!cacheable) {
		le = NULL;
	} else {
		e->key = key;
		e->len = (uint32_t)len;
		e->nstmts = n;
		memcpy(e->shape, sc->cur, len);
	}
	c->stmts_n = n;
ok:
	if (le) {
		le->key = lkey;
		le->len = (uint32_t)klen;
		le->nstmts = n;
		memcpy(le->text, sc->lit, klen);
	}
	*out = (struct rg_sql_facts){ .status = RG_SQL_OK, .nstmts = n };
	return 0;
}

int rg_sql_normalize(const char *sql, size_t len, char *out, size_t cap, size_t *outlen)
{
	char stackbuf[1024], *z;
	int rc;

	if (memchr(sql, '\0', len))
		return -EINVAL;
	z = len < sizeof(stackbuf) ? stackbuf : malloc(len + 1);
	if (!z)
		return -ENOMEM;
	memcpy(z, sql, len);
	z[len] = '\0';
	rc = rg_sqlraw_normalize(z, out, cap, outlen);
	if (z != stackbuf)
		free(z);
	if (rc == RG_SQLRAW_OK)
		return 0;
	return rc == -ENOSPC ? -ENOSPC : -EINVAL;
}

/*
 * rg_sqlclass_normalize's cache, for the audit trail's writer: pgbench -S and drivers that
 * inline ids send a new text each time, and the scanner costs 1-2 us per string. The output
 * of rg_sql_normalize is a function of the string's literal key (above): the bytes outside
 * the cut runs are the same, and each run, being exactly one integer constant whatever its
 * digits (the argument above), becomes the same $n. So the output is kept by literal key
 * once the scanner has shown every run of this string to be one ICONST, and compared byte
 * for byte. Direct-mapped, per context.
 */
#define NORM_SLOTS 128
#define NORM_OUT_MAX 512

struct norm_entry {
	uint64_t key; /* 0: empty */
	uint32_t klen, olen;
	char text[LIT_MAX];
	char out[NORM_OUT_MAX];
};

struct norm_cache {
	uint64_t seed;
	char lit[LIT_MAX];
	int32_t runs[SHAPE_MAX_CONSTS];
	uint8_t cur[SHAPE_MAX];
	int32_t locs[SHAPE_MAX_CONSTS];
	struct norm_entry e[NORM_SLOTS];
};

int rg_sqlclass_normalize(struct rg_sqlclass *c, const char *sql, size_t len, char *out,
			  size_t cap, size_t *outlen)
{
	struct norm_cache *nc = c->norms;
	size_t klen = 0, nruns = 0, slen, nlocs;
	struct norm_entry *e = NULL;
	uint64_t key = 0, iconsts;
	char stackbuf[1024];
	int rc;

	pthread_once(&wtab_once, sqlclass_init);
	if (!shape_enabled || memchr(sql, '\0', len))
		return rg_sql_normalize(sql, len, out, cap, outlen);
	if (!nc) {
		nc = c->norms = calloc(1, sizeof(*nc));
		if (!nc)
			return rg_sql_normalize(sql, len, out, cap, outlen);
		if (getrandom(&nc->seed, sizeof(nc->seed), 0) != sizeof(nc->seed))
			nc->seed = (uint64_t)(uintptr_t)nc ^ 0x9e3779b97f4a7c15ull;
	}
	if (lit_key(nc->lit, nc->runs, sql, len, &klen, &nruns)) {
		key = XXH3_64bits_withSeed(nc->lit, klen, nc->seed) | 1;
		e = &nc->e[key % NORM_SLOTS];
		if (e->key == key && e->klen == klen && !memcmp(e->text, nc->lit, klen) &&
		    e->olen < cap) {
			memcpy(out, e->out, e->olen);
			out[e->olen] = '\0';
			*outlen = e->olen;
			return 0;
		}
	}
	rc = rg_sql_normalize(sql, len, out, cap, outlen);
	if (rc || !e || *outlen >= NORM_OUT_MAX || len >= sizeof(stackbuf))
		return rc;
	memcpy(stackbuf, sql, len);
	stackbuf[len] = '\0';
	if (rg_sqlraw_shape(stackbuf, nc->cur, sizeof(nc->cur), &slen, nc->locs, SHAPE_MAX_CONSTS,
			    &nlocs, &iconsts) != RG_SQLRAW_OK ||
	    !lit_runs_iconst(nc->runs, nruns, nc->locs, nlocs, iconsts))
		return 0;
	e->key = key;
	e->klen = (uint32_t)klen;
	e->olen = (uint32_t)*outlen;
	memcpy(e->text, nc->lit, klen);
	memcpy(e->out, out, *outlen);
	return 0;
}

int rg_sqlclass_run(struct rg_sqlclass *c, const char *sql, size_t len, unsigned flags,
		    struct rg_sql_facts *out)
{
	struct pg_job j = { .c = c, .flags = flags };
	int rc;

	release_results(c);
	reset_facts(c);
	c->last_fast = false;
	c->last_shape_hit = false;
	c->last_lit_hit = false;

	/* The wire protocol ends a query at its NUL, so trailing NULs are harmless; a NUL
	 * with text after it would hide that text from the parser: fail closed. */
	while (len && sql[len - 1] == '\0')
		len--;
	if (len > RG_SQLCLASS_MAX_INPUT || (len && memchr(sql, '\0', len))) {
		unparseable(out);
		return 0;
	}
	if (grow(&c->in, &c->in_cap, len + 1, 1))
		return -ENOMEM;
	if (len)
		memcpy(c->in, sql, len);
	c->in[len] = '\0';
	j.len = len;

	if ((flags & RG_SQLCLASS_VALIDATE_ONLY) && (flags & RG_SQLCLASS_SHAPE_CACHE) &&
	    shape_enabled && !(flags & RG_SQLCLASS_FORCE_JSON) && len <= SHAPE_MAX_INPUT) {
		rc = validate_by_shape(c, out);
		if (rc <= 0)
			return rc;
	}
	if (flags & RG_SQLCLASS_VALIDATE_ONLY) {
		j.what = JOB_VALIDATE;
		rc = run_job(&j);
		if (rc)
			return rc;
		if (j.rc) {
			unparseable(out);
			return 0;
		}
		*out = (struct rg_sql_facts){ .status = RG_SQL_OK, .nstmts = (unsigned)c->stmts_n };
		return 0;
	}

	j.what = JOB_PARSE;
	rc = run_job(&j);
	if (rc)
		return rc;
	if (j.fast) {
		if (j.rc < 0)
			return j.rc;
		if (j.rc) {
			unparseable(out);
			return 0;
		}
		c->last_fast = true;
		c->ops = j.raw.ops;
		c->ops_nowhere = j.raw.ops_nowhere;
	} else if (j.declined) {
		rc = walk(c, c->json);
		if (rc < 0)
			return rc;
		if (rc) {
			unparseable(out);
			return 0;
		}
	} else {
		if (c->parse.error || !c->parse.parse_tree) {
			unparseable(out);
			return 0;
		}
		rc = walk(c, c->parse.parse_tree);
		if (rc < 0)
			return rc;
		if (rc) {
			unparseable(out);
			return 0;
		}
	}
	if (c->stmts_n == 0)
		c->ops = 0;
	switch (lexing_from_facts(c)) {
	case 1:
		c->ops |= OPB(SET_LEXING);
		break;
	case -1:
		j.what = JOB_LEXING;
		rc = run_job(&j);
		if (rc)
			return rc;
		if (j.lexing)
			c->ops |= OPB(SET_LEXING);
		break;
	}

	if ((flags & RG_SQLCLASS_FINGERPRINT) &&
	    grow(&c->fps, &c->fps_cap, c->stmts_n ? c->stmts_n : 1, sizeof(*c->fps)))
		return -ENOMEM;
	if (flags & (RG_SQLCLASS_FINGERPRINT | RG_SQLCLASS_NORMALIZE)) {
		j.what = JOB_EXTRAS;
		rc = run_job(&j);
		if (rc)
			return rc;
		if (j.rc) {
			unparseable(out);
			return 0;
		}
	}

	*out = (struct rg_sql_facts){
		.status = RG_SQL_OK,
		.nstmts = (unsigned)c->stmts_n,
		.ops = c->ops,
		.ops_without_where = c->ops_nowhere,
		.tables = c->tables.v,
		.ntables = c->tables.n,
		.functions = c->funcs.v,
		.nfunctions = c->funcs.n,
	};
	if (flags & RG_SQLCLASS_FINGERPRINT) {
		out->fingerprints = c->fps;
		out->nfingerprints = c->stmts_n;
	}
	if (flags & RG_SQLCLASS_NORMALIZE) {
		out->normalized = c->norm.normalized_query;
		out->normalized_len = strlen(c->norm.normalized_query);
	}
	return 0;
}
