/*
 * sqlclass_raw: the fast path, a walk over PostgreSQL's raw parse tree (see sqlclass_raw.h).
 *
 * Why: pg_query_parse() spends most of its time printing the tree as JSON, which the JSON
 * walker then scans again; the raw parse alone is about a third of that. This file reads the
 * tree that pg_query_raw_parse() builds, through PostgreSQL 15's node structs.
 *
 * How it stays honest: it must produce exactly the facts the JSON walker produces, so it
 * visits every node field the JSON printer prints that can hold something the JSON walker
 * reacts to, in the printer's (struct) order, and mirrors that walker's rules. It only knows
 * the statements SELECT/INSERT/UPDATE/DELETE/MERGE, transaction control, SET and SHOW, and
 * an explicit list of node types that occur under them; any other node anywhere, any string
 * holding another statement, or a tree deeper than RAW_MAX_DEPTH declines, and sqlclass.c
 * runs the JSON walker on the whole string. It never calls PostgreSQL's elog paths: it does
 * not use raw_expression_tree_walker() (which elog(ERROR)s on unknown tags and skips fields
 * such as function names that the JSON walker sees). Node layouts and tags are fixed within
 * a PostgreSQL major version: the build asserts major 15 for both libpg_query and the server
 * headers, and rg_sqlraw_canary() checks a parsed statement once per process; if it
 * disagrees the fast path stays off. The differential unit test and fuzz target compare
 * both paths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

/* libpg_query's version, before the server's pg_config.h redefines the same macros. */
enum { RG_PGQ_VERSION_NUM = PG_VERSION_NUM };
#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "sqlclass_raw.c reads PostgreSQL 15 node structs: libpg_query must be based on PG 15"
#endif
#undef PG_MAJORVERSION
#undef PG_VERSION
#undef PG_VERSION_NUM

#include <postgres.h>
#include <nodes/parsenodes.h>
#include <nodes/pg_list.h>
#include <nodes/value.h>
#include <nodes/nodeFuncs.h>
#include <parser/scanner.h>
#include <parser/gram.h>
#include <pg_query/pg_query_internal.h>

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "sqlclass_raw.c needs the PostgreSQL 15 server headers (postgresql-server-dev-15)"
#endif
_Static_assert(RG_PGQ_VERSION_NUM / 10000 == PG_VERSION_NUM / 10000,
	       "libpg_query and the server headers must be the same PostgreSQL major version");

#include "sqlclass.h"
#include "sqlclass_raw.h"

/* libpg_query's JSON printer (exported; its header, pg_query_json.h, is not installed).
 * pg_query_parse() is pg_query_raw_parse() followed by this on the same tree. */
char *pg_query_nodes_to_json(const void *obj);

/* Deepest node nesting walked; deeper trees (long a+b+c... chains) go to the JSON walker.
 * The walk recurses, about 100 bytes of stack per level. */
#define RAW_MAX_DEPTH 2000u

#define OPB(x) RG_OP_BIT(RG_OP_##x)

struct rw {
	struct rg_sqlclass *c;
	uint64_t ops, nowhere;
};

/* Walk results: 0 go on, RG_SQLRAW_DECLINE, or -ENOMEM. */
static int walk(struct rw *w, const Node *n, unsigned depth);

static int walk_rangevar(struct rw *w, const Node *n, uint8_t access)
{
	if (!n)
		return 0;
	if (!IsA(n, RangeVar))
		return RG_SQLRAW_DECLINE;
	const RangeVar *rv = (const RangeVar *)n;
	if (!rv->relname)
		return RG_SQLRAW_DECLINE;
	/* catalogname is not part of the facts; alias holds only names */
	return rg_sqlclass_note_table(w->c, rv->schemaname, rv->relname, access);
}

/* FuncCall.funcname: the last one or two names. */
static int note_funcname(struct rw *w, const List *names)
{
	const char *v[2] = { NULL, NULL };
	const ListCell *lc;
	int n = 0;

	foreach (lc, names) {
		const Node *e = lfirst(lc);
		if (!e || !IsA(e, String) || !strVal(e))
			return RG_SQLRAW_DECLINE;
		v[0] = v[1];
		v[1] = strVal(e);
		n++;
	}
	if (n == 0)
		return 0;
	return rg_sqlclass_note_func(w->c, n >= 2 ? v[0] : NULL, v[1]);
}

/* ColumnRef a.b(.c...): attribute notation may be a call of the last name (see the JSON
 * walker's M_FIELDS): reported when there are two or more names and no '*'. */
static int note_columnref(struct rw *w, const ColumnRef *cr)
{
	const ListCell *lc;
	const char *last = NULL;
	int n = 0;
	bool star = false;

	foreach (lc, cr->fields) {
		const Node *e = lfirst(lc);
		if (e && IsA(e, String) && strVal(e)) {
			last = strVal(e);
			n++;
		} else if (e && IsA(e, A_Star)) {
			star = true;
		} else {
			return RG_SQLRAW_DECLINE;
		}
	}
	if (n >= 2 && !star)
		return rg_sqlclass_note_func(w->c, NULL, last);
	return 0;
}

static int walk_select(struct rw *w, const SelectStmt *s, unsigned depth, bool insert_source)
{
	int rc;

	/* INSERT ... VALUES is an insert, not a query. */
	if (!(insert_source && s->valuesLists && !s->targetList && !s->fromClause))
		w->ops |= OPB(SELECT);
	if (s->intoClause) {
		const IntoClause *into = s->intoClause;
		if (!IsA(into, IntoClause))
			return RG_SQLRAW_DECLINE;
		w->ops |= OPB(CREATE); /* SELECT ... INTO creates a table */
	}
	if ((rc = walk(w, (const Node *)s->distinctClause, depth)))
		return rc;
	if (s->intoClause) {
		const IntoClause *into = s->intoClause;
		if ((rc = walk_rangevar(w, (const Node *)into->rel, RG_ACCESS_WRITE)) ||
		    (rc = walk(w, (const Node *)into->options, depth)) ||
		    (rc = walk(w, into->viewQuery, depth)))
			return rc;
	}
	if ((rc = walk(w, (const Node *)s->targetList, depth)) ||
	    (rc = walk(w, (const Node *)s->fromClause, depth)) ||
	    (rc = walk(w, s->whereClause, depth)) ||
	    (rc = walk(w, (const Node *)s->groupClause, depth)) ||
	    (rc = walk(w, s->havingClause, depth)) ||
	    (rc = walk(w, (const Node *)s->windowClause, depth)) ||
	    (rc = walk(w, (const Node *)s->valuesLists, depth)) ||
	    (rc = walk(w, (const Node *)s->sortClause, depth)) ||
	    (rc = walk(w, s->limitOffset, depth)) || (rc = walk(w, s->limitCount, depth)) ||
	    (rc = walk(w, (const Node *)s->lockingClause, depth)) ||
	    (rc = walk(w, (const Node *)s->withClause, depth)) ||
	    (rc = walk(w, (const Node *)s->larg, depth)) ||
	    (rc = walk(w, (const Node *)s->rarg, depth)))
		return rc;
	return 0;
}

static int walk_insert(struct rw *w, const InsertStmt *s, unsigned depth)
{
	const OnConflictClause *oc = s->onConflictClause;
	uint8_t acc = RG_ACCESS_WRITE | (s->returningList || oc ? RG_ACCESS_READ : 0);
	int rc;

	w->ops |= OPB(INSERT);
	if ((rc = walk_rangevar(w, (const Node *)s->relation, acc)) ||
	    (rc = walk(w, (const Node *)s->cols, depth)))
		return rc;
	if (s->selectStmt) {
		if (!IsA(s->selectStmt, SelectStmt))
			return RG_SQLRAW_DECLINE;
		if ((rc = walk_select(w, (const SelectStmt *)s->selectStmt, depth, true)))
			return rc;
	}
	if (oc) {
		if (!IsA(oc, OnConflictClause))
			return RG_SQLRAW_DECLINE;
		if (oc->action == ONCONFLICT_UPDATE)
			w->ops |= OPB(UPDATE);
		if ((rc = walk(w, (const Node *)oc->infer, depth)) ||
		    (rc = walk(w, (const Node *)oc->targetList, depth)) ||
		    (rc = walk(w, oc->whereClause, depth)))
			return rc;
	}
	if ((rc = walk(w, (const Node *)s->returningList, depth)) ||
	    (rc = walk(w, (const Node *)s->withClause, depth)))
		return rc;
	return 0;
}

static int walk_cte(struct rw *w, const CommonTableExpr *cte, unsigned depth)
{
	int rc;

	/* aliascolnames and the search clause hold only names */
	if ((rc = walk(w, cte->ctequery, depth)))
		return rc;
	if (cte->cycle_clause) {
		const CTECycleClause *cy = cte->cycle_clause;
		if (!IsA(cy, CTECycleClause))
			return RG_SQLRAW_DECLINE;
		if ((rc = walk(w, cy->cycle_mark_value, depth)) ||
		    (rc = walk(w, cy->cycle_mark_default, depth)))
			return rc;
	}
	/* filled by parse analysis only */
	if (cte->ctecolnames || cte->ctecoltypes || cte->ctecoltypmods || cte->ctecolcollations)
		return RG_SQLRAW_DECLINE;
	return 0;
}

#define W(x) ((rc = walk(w, (const Node *)(x), depth)) != 0)

static int walk(struct rw *w, const Node *n, unsigned depth)
{
	int rc = 0;

	if (!n)
		return 0;
	if (++depth > RAW_MAX_DEPTH)
		return RG_SQLRAW_DECLINE;

	switch (nodeTag(n)) {
	case T_List: {
		const ListCell *lc;
		foreach (lc, (const List *)n) {
			if (W(lfirst(lc)))
				return rc;
		}
		return 0;
	}
	/* leaves, and nodes holding only names or constants */
	case T_Integer:
	case T_Float:
	case T_Boolean:
	case T_String:
	case T_BitString:
	case T_A_Const:
	case T_A_Star:
	case T_ParamRef:
	case T_Alias:
	case T_SetToDefault:
	case T_CurrentOfExpr:
	case T_SQLValueFunction:
		return 0;
	case T_RangeVar:
		return walk_rangevar(w, n, RG_ACCESS_READ);
	case T_SelectStmt:
		return walk_select(w, (const SelectStmt *)n, depth, false);
	case T_InsertStmt:
		return walk_insert(w, (const InsertStmt *)n, depth);
	case T_UpdateStmt: {
		const UpdateStmt *s = (const UpdateStmt *)n;
		w->ops |= OPB(UPDATE);
		if (!s->whereClause)
			w->nowhere |= OPB(UPDATE);
		/* WHERE and RETURNING read the target too */
		if ((rc = walk_rangevar(w, (const Node *)s->relation,
					RG_ACCESS_READ | RG_ACCESS_WRITE)))
			return rc;
		if (W(s->targetList) || W(s->whereClause) || W(s->fromClause) ||
		    W(s->returningList) || W(s->withClause))
			return rc;
		return 0;
	}
	case T_DeleteStmt: {
		const DeleteStmt *s = (const DeleteStmt *)n;
		w->ops |= OPB(DELETE);
		if (!s->whereClause)
			w->nowhere |= OPB(DELETE);
		if ((rc = walk_rangevar(w, (const Node *)s->relation,
					RG_ACCESS_READ | RG_ACCESS_WRITE)))
			return rc;
		if (W(s->usingClause) || W(s->whereClause) || W(s->returningList) ||
		    W(s->withClause))
			return rc;
		return 0;
	}
	case T_MergeStmt: {
		const MergeStmt *s = (const MergeStmt *)n;
		w->ops |= OPB(MERGE);
		if ((rc = walk_rangevar(w, (const Node *)s->relation,
					RG_ACCESS_READ | RG_ACCESS_WRITE)))
			return rc;
		if (W(s->sourceRelation) || W(s->joinCondition) || W(s->mergeWhenClauses) ||
		    W(s->withClause))
			return rc;
		return 0;
	}
	case T_MergeWhenClause: {
		const MergeWhenClause *m = (const MergeWhenClause *)n;
		if (m->commandType == CMD_INSERT)
			w->ops |= OPB(INSERT);
		else if (m->commandType == CMD_UPDATE)
			w->ops |= OPB(UPDATE);
		else if (m->commandType == CMD_DELETE)
			w->ops |= OPB(DELETE);
		if (W(m->condition) || W(m->targetList) || W(m->values))
			return rc;
		return 0;
	}
	case T_WithClause:
		return W(((const WithClause *)n)->ctes) ? rc : 0;
	case T_CommonTableExpr:
		return walk_cte(w, (const CommonTableExpr *)n, depth);
	case T_InferClause: {
		const InferClause *ic = (const InferClause *)n;
		if (W(ic->indexElems) || W(ic->whereClause))
			return rc;
		return 0;
	}
	case T_IndexElem: {
		const IndexElem *ie = (const IndexElem *)n;
		/* collation and opclass are names */
		if (W(ie->expr) || W(ie->opclassopts))
			return rc;
		return 0;
	}
	case T_ResTarget: {
		const ResTarget *rt = (const ResTarget *)n;
		if (W(rt->indirection) || W(rt->val))
			return rc;
		return 0;
	}
	case T_MultiAssignRef:
		return W(((const MultiAssignRef *)n)->source) ? rc : 0;
	case T_ColumnRef:
		return note_columnref(w, (const ColumnRef *)n);
	case T_A_Expr: {
		const A_Expr *e = (const A_Expr *)n;
		/* name is the operator */
		if (W(e->lexpr) || W(e->rexpr))
			return rc;
		return 0;
	}
	case T_TypeCast: {
		const TypeCast *tc = (const TypeCast *)n;
		if (W(tc->arg) || W(tc->typeName))
			return rc;
		return 0;
	}
	case T_TypeName: {
		const TypeName *tn = (const TypeName *)n;
		if (W(tn->typmods) || W(tn->arrayBounds))
			return rc;
		return 0;
	}
	case T_CollateClause:
		return W(((const CollateClause *)n)->arg) ? rc : 0;
	case T_FuncCall: {
		const FuncCall *fc = (const FuncCall *)n;
		if ((rc = note_funcname(w, fc->funcname)))
			return rc;
		if (W(fc->args) || W(fc->agg_order) || W(fc->agg_filter) || W(fc->over))
			return rc;
		return 0;
	}
	case T_A_Indices: {
		const A_Indices *ai = (const A_Indices *)n;
		if (W(ai->lidx) || W(ai->uidx))
			return rc;
		return 0;
	}
	case T_A_Indirection: {
		const A_Indirection *ai = (const A_Indirection *)n;
		const ListCell *lc;
		if (W(ai->arg))
			return rc;
		if (ai->indirection && !IsA(ai->indirection, List))
			return RG_SQLRAW_DECLINE;
		/* (x).f may be f(x), as in the JSON walker's M_INDIR */
		foreach (lc, ai->indirection) {
			const Node *e = lfirst(lc);
			if (e && IsA(e, String)) {
				if (!strVal(e))
					return RG_SQLRAW_DECLINE;
				if ((rc = rg_sqlclass_note_func(w->c, NULL, strVal(e))))
					return rc;
			} else if (W(e)) {
				return rc;
			}
		}
		return 0;
	}
	case T_A_ArrayExpr:
		return W(((const A_ArrayExpr *)n)->elements) ? rc : 0;
	case T_SortBy:
		return W(((const SortBy *)n)->node) ? rc : 0;
	case T_WindowDef: {
		const WindowDef *wd = (const WindowDef *)n;
		if (W(wd->partitionClause) || W(wd->orderClause) || W(wd->startOffset) ||
		    W(wd->endOffset))
			return rc;
		return 0;
	}
	case T_RangeSubselect:
		return W(((const RangeSubselect *)n)->subquery) ? rc : 0;
	case T_RangeFunction: {
		const RangeFunction *rf = (const RangeFunction *)n;
		if (W(rf->functions) || W(rf->coldeflist))
			return rc;
		return 0;
	}
	case T_RangeTableFunc: {
		const RangeTableFunc *rt = (const RangeTableFunc *)n;
		if (W(rt->docexpr) || W(rt->rowexpr) || W(rt->namespaces) || W(rt->columns))
			return rc;
		return 0;
	}
	case T_RangeTableFuncCol: {
		const RangeTableFuncCol *col = (const RangeTableFuncCol *)n;
		if (W(col->typeName) || W(col->colexpr) || W(col->coldefexpr))
			return rc;
		return 0;
	}
	case T_RangeTableSample: {
		const RangeTableSample *ts = (const RangeTableSample *)n;
		if (W(ts->relation) || W(ts->args) || W(ts->repeatable))
			return rc;
		return 0;
	}
	case T_ColumnDef: {
		const ColumnDef *cd = (const ColumnDef *)n;
		/* a column definition list entry: name, type, collation; nothing else occurs */
		if (cd->identitySequence || cd->constraints || cd->fdwoptions)
			return RG_SQLRAW_DECLINE;
		if (W(cd->typeName) || W(cd->raw_default) || W(cd->cooked_default) ||
		    W(cd->collClause))
			return rc;
		return 0;
	}
	case T_JoinExpr: {
		const JoinExpr *j = (const JoinExpr *)n;
		/* usingClause and the aliases are names */
		if (W(j->larg) || W(j->rarg) || W(j->quals))
			return rc;
		return 0;
	}
	case T_SubLink: {
		const SubLink *sl = (const SubLink *)n;
		if (W(sl->testexpr) || W(sl->subselect))
			return rc;
		return 0;
	}
	case T_CaseExpr: {
		const CaseExpr *ce = (const CaseExpr *)n;
		if (W(ce->arg) || W(ce->args) || W(ce->defresult))
			return rc;
		return 0;
	}
	case T_CaseWhen: {
		const CaseWhen *cw = (const CaseWhen *)n;
		if (W(cw->expr) || W(cw->result))
			return rc;
		return 0;
	}
	case T_RowExpr:
		return W(((const RowExpr *)n)->args) ? rc : 0;
	case T_CoalesceExpr:
		return W(((const CoalesceExpr *)n)->args) ? rc : 0;
	case T_MinMaxExpr:
		return W(((const MinMaxExpr *)n)->args) ? rc : 0;
	case T_XmlExpr: {
		const XmlExpr *x = (const XmlExpr *)n;
		if (W(x->named_args) || W(x->args))
			return rc;
		return 0;
	}
	case T_XmlSerialize: {
		const XmlSerialize *x = (const XmlSerialize *)n;
		if (W(x->expr) || W(x->typeName))
			return rc;
		return 0;
	}
	case T_NullTest:
		return W(((const NullTest *)n)->arg) ? rc : 0;
	case T_BooleanTest:
		return W(((const BooleanTest *)n)->arg) ? rc : 0;
	case T_BoolExpr:
		return W(((const BoolExpr *)n)->args) ? rc : 0;
	case T_GroupingFunc: {
		const GroupingFunc *g = (const GroupingFunc *)n;
		if (W(g->args) || W(g->refs) || W(g->cols))
			return rc;
		return 0;
	}
	case T_GroupingSet:
		return W(((const GroupingSet *)n)->content) ? rc : 0;
	case T_NamedArgExpr:
		return W(((const NamedArgExpr *)n)->arg) ? rc : 0;
	case T_LockingClause:
		return W(((const LockingClause *)n)->lockedRels) ? rc : 0;
	case T_DefElem:
		return W(((const DefElem *)n)->arg) ? rc : 0;
	default:
		return RG_SQLRAW_DECLINE;
	}
}

#undef W

/* Top-level statements the fast path answers. */
static bool top_covered(const Node *n)
{
	if (!n)
		return false;
	switch (nodeTag(n)) {
	case T_SelectStmt:
	case T_InsertStmt:
	case T_UpdateStmt:
	case T_DeleteStmt:
	case T_MergeStmt:
	case T_TransactionStmt:
	case T_VariableSetStmt:
	case T_VariableShowStmt:
		return true;
	default:
		return false;
	}
}

static int walk_top(struct rw *w, const Node *n)
{
	switch (nodeTag(n)) {
	case T_TransactionStmt:
		w->ops |= OPB(TRANSACTION);
		return walk(w, (const Node *)((const TransactionStmt *)n)->options, 0);
	case T_VariableSetStmt:
		w->ops |= OPB(SET);
		return walk(w, (const Node *)((const VariableSetStmt *)n)->args, 0);
	case T_VariableShowStmt:
		w->ops |= OPB(SHOW);
		return 0;
	default:
		return walk(w, n, 0);
	}
}

static void free_parse(PgQueryInternalParsetreeAndError *r)
{
	if (r->error)
		pg_query_free_error(r->error);
	free(r->stderr_buffer);
	r->error = NULL;
	r->stderr_buffer = NULL;
}

static int classify_tree(struct rg_sqlclass *c, const List *tree, struct rg_sqlraw_out *out)
{
	struct rw w = { .c = c };
	const ListCell *lc;
	int rc;

	if (tree && !IsA(tree, List))
		return RG_SQLRAW_DECLINE;
	foreach (lc, tree) {
		const RawStmt *rs = lfirst(lc);
		if (!rs || !IsA(rs, RawStmt) || !top_covered(rs->stmt))
			return RG_SQLRAW_DECLINE;
	}
	foreach (lc, tree) {
		const RawStmt *rs = lfirst(lc);
		if (rs->stmt_location < 0 || rs->stmt_len < 0)
			return RG_SQLRAW_DECLINE;
		if ((rc = rg_sqlclass_note_stmt(c, rs->stmt_location, rs->stmt_len)))
			return rc;
		if ((rc = walk_top(&w, rs->stmt)))
			return rc;
	}
	out->ops = w.ops;
	out->ops_nowhere = w.nowhere;
	out->nstmts = (unsigned)list_length(tree);
	return RG_SQLRAW_OK;
}

int rg_sqlraw_classify(struct rg_sqlclass *c, const char *sql, struct rg_sqlraw_out *out)
{
	MemoryContext ctx = pg_query_enter_memory_context();
	PgQueryInternalParsetreeAndError r = pg_query_raw_parse(sql);
	int rc;

	if (r.error)
		rc = RG_SQLRAW_UNPARSEABLE;
	else
		rc = classify_tree(c, r.tree, out);
	/* names point into the parse tree, which goes away with ctx */
	if (rc == RG_SQLRAW_OK)
		rc = rg_sqlclass_keep_names(c);
	if (rc == RG_SQLRAW_DECLINE) {
		/* what pg_query_parse() would return, without parsing again */
		const char *j = pg_query_nodes_to_json(r.tree);
		if (!j || rg_sqlclass_keep_json(c, j))
			rc = -ENOMEM;
	}
	free_parse(&r);
	pg_query_exit_memory_context(ctx);
	return rc;
}

int rg_sqlraw_validate(const char *sql, unsigned *nstmts)
{
	MemoryContext ctx = pg_query_enter_memory_context();
	PgQueryInternalParsetreeAndError r = pg_query_raw_parse(sql);
	int rc = RG_SQLRAW_OK;

	if (r.error || (r.tree && !IsA(r.tree, List)))
		rc = RG_SQLRAW_UNPARSEABLE;
	else
		*nstmts = (unsigned)list_length(r.tree);
	free_parse(&r);
	pg_query_exit_memory_context(ctx);
	return rc;
}

/* ---- prepared statements (rg_sqlclass_prep) -------------------------------------------- */

/* Where PostgreSQL 15's grammar lets an EXECUTE stand: ExecuteStmt alone, or as the query of
 * CREATE TABLE ... AS EXECUTE (gram.y's ExecuteStmt rule), each also under EXPLAIN
 * (ExplainableStmt). PREPARE bodies (PreparableStmt), cursors, COPY and rules take no
 * EXECUTE. The name of the statement run, or NULL. */
static const char *executed_name(const Node *n)
{
	if (n && IsA(n, ExplainStmt))
		n = ((const ExplainStmt *)n)->query;
	if (n && IsA(n, CreateTableAsStmt))
		n = ((const CreateTableAsStmt *)n)->query;
	return n && IsA(n, ExecuteStmt) ? ((const ExecuteStmt *)n)->name : NULL;
}

static int prep_tree(struct rg_sqlclass *c, const List *tree)
{
	const ListCell *lc;
	unsigned i = 0;
	int rc = 0;

	if (tree && !IsA(tree, List))
		return RG_SQLRAW_UNPARSEABLE;
	foreach (lc, tree) {
		const RawStmt *rs = lfirst(lc);
		const Node *n;
		const char *name;

		if (!rs || !IsA(rs, RawStmt) || !rs->stmt || rs->stmt_location < 0 ||
		    rs->stmt_len < 0)
			return RG_SQLRAW_UNPARSEABLE;
		n = rs->stmt;
		if (IsA(n, PrepareStmt))
			rc = rg_sqlclass_note_prep(c, RG_SQL_PREP_PREPARE,
						   ((const PrepareStmt *)n)->name,
						   rs->stmt_location, rs->stmt_len, i);
		else if (IsA(n, DeallocateStmt))
			rc = rg_sqlclass_note_prep(c,
						   ((const DeallocateStmt *)n)->name
						       ? RG_SQL_PREP_DEALLOCATE
						       : RG_SQL_PREP_DEALLOCATE_ALL,
						   ((const DeallocateStmt *)n)->name,
						   rs->stmt_location, rs->stmt_len, i);
		else if (IsA(n, DiscardStmt) && ((const DiscardStmt *)n)->target == DISCARD_ALL)
			rc = rg_sqlclass_note_prep(c, RG_SQL_PREP_DISCARD_ALL, NULL,
						   rs->stmt_location, rs->stmt_len, i);
		else if ((name = executed_name(n)))
			rc = rg_sqlclass_note_prep(c, RG_SQL_PREP_EXECUTE, name,
						   rs->stmt_location, rs->stmt_len, i);
		if (rc)
			return rc;
		i++;
	}
	return RG_SQLRAW_OK;
}

int rg_sqlraw_prep(struct rg_sqlclass *c, const char *sql)
{
	MemoryContext ctx = pg_query_enter_memory_context();
	PgQueryInternalParsetreeAndError r = pg_query_raw_parse(sql);
	int rc = r.error ? RG_SQLRAW_UNPARSEABLE : prep_tree(c, r.tree);

	free_parse(&r);
	pg_query_exit_memory_context(ctx);
	return rc;
}

/* ---- start-up canary ---------------------------------------------------------------- */

static bool str_is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

static const Node *nth(const List *l, int i)
{
	if (!l || !IsA(l, List) || i >= list_length(l))
		return NULL;
	return list_nth(l, i);
}

#define CANARY_SQL                                                                      \
	"UPDATE s.t SET a = f(b) WHERE c; INSERT INTO u VALUES (1) RETURNING x.y; "     \
	"DELETE FROM v USING w; MERGE INTO m USING n ON true WHEN MATCHED THEN DELETE; " \
	"SELECT 1 FROM p FOR UPDATE"

static bool canary_tree(const List *tree)
{
	const RawStmt *rs[5];
	for (int i = 0; i < 5; i++) {
		rs[i] = (const RawStmt *)nth(tree, i);
		if (!rs[i] || !IsA(rs[i], RawStmt) || !rs[i]->stmt)
			return false;
	}
	if (list_length(tree) != 5 || rs[0]->stmt_location != 0 || rs[0]->stmt_len != 31 ||
	    rs[1]->stmt_location != 32)
		return false;

	const UpdateStmt *up = (const UpdateStmt *)rs[0]->stmt;
	if (!IsA(up, UpdateStmt) || !up->relation || !IsA(up->relation, RangeVar) ||
	    !str_is(up->relation->schemaname, "s") || !str_is(up->relation->relname, "t") ||
	    !up->whereClause || !IsA(up->whereClause, ColumnRef) || up->fromClause ||
	    up->returningList || up->withClause)
		return false;
	const ResTarget *rt = (const ResTarget *)nth(up->targetList, 0);
	if (!rt || !IsA(rt, ResTarget) || !str_is(rt->name, "a") || !rt->val ||
	    !IsA(rt->val, FuncCall))
		return false;
	const FuncCall *fc = (const FuncCall *)rt->val;
	const Node *fname = nth(fc->funcname, 0);
	const Node *farg = nth(fc->args, 0);
	if (!fname || !IsA(fname, String) || !str_is(strVal(fname), "f") || !farg ||
	    !IsA(farg, ColumnRef) || fc->agg_order || fc->agg_filter || fc->over)
		return false;

	const InsertStmt *in = (const InsertStmt *)rs[1]->stmt;
	if (!IsA(in, InsertStmt) || !in->relation || !str_is(in->relation->relname, "u") ||
	    in->relation->schemaname || !in->selectStmt || !IsA(in->selectStmt, SelectStmt) ||
	    !((const SelectStmt *)in->selectStmt)->valuesLists || in->onConflictClause)
		return false;
	const ResTarget *ret = (const ResTarget *)nth(in->returningList, 0);
	if (!ret || !IsA(ret, ResTarget) || !ret->val || !IsA(ret->val, ColumnRef) ||
	    list_length(((const ColumnRef *)ret->val)->fields) != 2)
		return false;

	const DeleteStmt *del = (const DeleteStmt *)rs[2]->stmt;
	const Node *using = nth(del->usingClause, 0);
	if (!IsA(del, DeleteStmt) || !str_is(del->relation->relname, "v") || !using ||
	    !IsA(using, RangeVar) || !str_is(((const RangeVar *)using)->relname, "w") ||
	    del->whereClause)
		return false;

	const MergeStmt *mg = (const MergeStmt *)rs[3]->stmt;
	const MergeWhenClause *mw = (const MergeWhenClause *)nth(mg->mergeWhenClauses, 0);
	if (!IsA(mg, MergeStmt) || !str_is(mg->relation->relname, "m") || !mg->sourceRelation ||
	    !IsA(mg->sourceRelation, RangeVar) || !mw || !IsA(mw, MergeWhenClause) ||
	    !mw->matched || mw->commandType != CMD_DELETE)
		return false;

	const SelectStmt *sel = (const SelectStmt *)rs[4]->stmt;
	const LockingClause *lk = (const LockingClause *)nth(sel->lockingClause, 0);
	if (!IsA(sel, SelectStmt) || !nth(sel->fromClause, 0) || !lk ||
	    !IsA(lk, LockingClause) || sel->op != SETOP_NONE || sel->larg || sel->intoClause)
		return false;
	return true;
}

bool rg_sqlraw_canary(void)
{
	MemoryContext ctx = pg_query_enter_memory_context();
	PgQueryInternalParsetreeAndError r = pg_query_raw_parse(CANARY_SQL);
	bool ok = !r.error && canary_tree(r.tree);
	free_parse(&r);
	pg_query_exit_memory_context(ctx);
	return ok;
}

/* ---- statement shapes: the validate-only cache in sqlclass.c ---------------------------- */

/*
 * PostgreSQL's own scanner (core_yylex, the one raw_parser runs) turns the string into
 * tokens; the shape is their kinds, with the text of every identifier and operator and the
 * number of every parameter, and with nothing of the five constant kinds but their kind and
 * position. Two strings of one shape feed the grammar the same token kinds and the same
 * values everywhere except in those constants. Anything the scanner does not hand over as
 * plain tokens (U& strings and identifiers, whose escapes base_yylex decodes and checks)
 * declines, and so does a string the scanner rejects.
 */
struct shape_job {
	const char *sql;
	uint8_t *out;
	size_t cap, len;
	int32_t *locs;
	size_t loccap, nlocs;
	uint64_t iconsts; /* bit i: constant i is an ICONST */
	bool decline;
};

static bool shape_put(struct shape_job *j, const void *p, size_t n)
{
	if (j->cap - j->len < n) {
		j->decline = true;
		return false;
	}
	memcpy(j->out + j->len, p, n);
	j->len += n;
	return true;
}

static void shape_run(void *arg)
{
	struct shape_job *j = arg;
	core_yy_extra_type extra;
	core_YYSTYPE v;
	YYLTYPE loc;
	core_yyscan_t sc = scanner_init(j->sql, &extra, &ScanKeywords, ScanKeywordTokens);

	while (!j->decline) {
		int t = core_yylex(&v, &loc, sc);
		uint8_t tb[2] = {(uint8_t)t, (uint8_t)(t >> 8)};
		if (t <= 0 || !shape_put(j, tb, 2))
			break;
		switch (t) {
		case ICONST:
		case FCONST:
		case SCONST:
		case BCONST:
		case XCONST:
			if (j->nlocs == j->loccap || j->nlocs == 64) {
				j->decline = true;
				break;
			}
			if (t == ICONST)
				j->iconsts |= UINT64_C(1) << j->nlocs;
			j->locs[j->nlocs++] = loc;
			break;
		case IDENT:
		case Op: {
			size_t n = strlen(v.str);
			uint8_t nb = (uint8_t)n;
			if (n > 255 || !shape_put(j, &nb, 1) || !shape_put(j, v.str, n))
				j->decline = true;
			break;
		}
		case PARAM:
			shape_put(j, &v.ival, sizeof(v.ival));
			break;
		default:
			/* one-character tokens, the fixed operators, and keywords (one token
			 * kind per keyword); anything else is not a plain token */
			if (!(t < 256 || (t >= TYPECAST && t <= NOT_EQUALS) || t > NOT_EQUALS) ||
			    t == UIDENT || t == USCONST)
				j->decline = true;
			break;
		}
	}
	scanner_finish(sc);
}

int rg_sqlraw_shape(const char *sql, uint8_t *out, size_t cap, size_t *len, int32_t *locs,
		    size_t loccap, size_t *nlocs, uint64_t *iconsts)
{
	struct shape_job j = {.sql = sql, .out = out, .cap = cap, .locs = locs, .loccap = loccap};
	MemoryContext ctx = pg_query_enter_memory_context();
	int rc = rg_pg_guarded(shape_run, &j);

	pg_query_exit_memory_context(ctx);
	if (rc || j.decline)
		return RG_SQLRAW_DECLINE;
	*len = j.len;
	*nlocs = j.nlocs;
	if (iconsts)
		*iconsts = j.iconsts;
	return RG_SQLRAW_OK;
}

/*
 * Whether the grammar took each constant of a parsed string as a plain value: an A_Const
 * at the constant's position, in an expression (raw_expression_tree_walker's reach). Such
 * a constant is only stored, never looked at, by the grammar action that makes it (errors
 * about values come later, at analysis); a constant the grammar checks (FLOAT(p)'s
 * precision, ALTER COLUMN n's number) becomes something else, or sits in a type name the
 * walker does not enter, and is not found. The walker raises an ERROR on statement types
 * it does not know: the string is then not cached.
 */
struct const_job {
	const List *tree;
	const int32_t *locs;
	size_t nlocs;
	uint64_t seen;
};

static bool const_walker(Node *n, void *arg)
{
	struct const_job *cj = arg;

	if (!n)
		return false;
	if (IsA(n, A_Const)) {
		int loc = ((const A_Const *)n)->location;
		for (size_t i = 0; i < cj->nlocs; i++)
			if (cj->locs[i] == loc)
				cj->seen |= UINT64_C(1) << i;
		return false;
	}
	return raw_expression_tree_walker(n, const_walker, cj);
}

static void const_run(void *arg)
{
	struct const_job *cj = arg;
	const ListCell *lc;

	foreach (lc, cj->tree) {
		const RawStmt *rs = lfirst(lc);
		if (!rs || !IsA(rs, RawStmt))
			return;
		const_walker(rs->stmt, cj);
	}
}

int rg_sqlraw_validate_shape(const char *sql, const int32_t *locs, size_t nlocs,
			     unsigned *nstmts, bool *cacheable)
{
	MemoryContext ctx = pg_query_enter_memory_context();
	PgQueryInternalParsetreeAndError r = pg_query_raw_parse(sql);
	int rc = RG_SQLRAW_OK;

	*cacheable = false;
	if (r.error || (r.tree && !IsA(r.tree, List))) {
		rc = RG_SQLRAW_UNPARSEABLE;
	} else {
		*nstmts = (unsigned)list_length(r.tree);
		if (nlocs == 0) {
			*cacheable = true; /* nothing left out: the shape is the string's tokens */
		} else if (nlocs <= 64) {
			struct const_job cj = {.tree = r.tree, .locs = locs, .nlocs = nlocs};
			*cacheable = rg_pg_guarded(const_run, &cj) == 0 &&
				     cj.seen == (nlocs == 64 ? ~UINT64_C(0)
							    : (UINT64_C(1) << nlocs) - 1);
		}
	}
	free_parse(&r);
	pg_query_exit_memory_context(ctx);
	return rc;
}

#define SHAPE_CANARY_SQL "SELECT a, 1, 'x', 1.5, b'1' FROM t WHERE a <= $1 AND b::int != 2"

/* libpg_query's grammar numbers its keyword tokens apart from the server headers' gram.h
 * (it has tokens of its own), so keywords are only checked to be keywords; the tokens below
 * them (IDENT .. NOT_EQUALS), which the shape reads, must agree. */
#define KW (-1)

bool rg_sqlraw_shape_canary(void)
{
	static const int want[] = {KW, IDENT, ',', ICONST, ',', SCONST, ',', FCONST, ',', BCONST,
				   KW, IDENT, KW, IDENT, LESS_EQUALS, PARAM, KW, IDENT, TYPECAST,
				   KW, NOT_EQUALS, ICONST};
	uint8_t out[256];
	int32_t locs[8];
	size_t len = 0, nlocs = 0, at = 0, k = 0;

	if (rg_sqlraw_shape(SHAPE_CANARY_SQL, out, sizeof(out), &len, locs, 8, &nlocs, NULL) ||
	    nlocs != 5 || locs[0] != 10 || locs[4] != 63)
		return false;
	while (at + 2 <= len && k < sizeof(want) / sizeof(want[0])) {
		int t = out[at] | out[at + 1] << 8;
		if (want[k] == KW ? t <= NOT_EQUALS : t != want[k])
			return false;
		k++;
		at += 2;
		if (t == IDENT || t == Op)
			at += 1 + out[at];
		else if (t == PARAM)
			at += sizeof(int);
	}
	return at == len && k == sizeof(want) / sizeof(want[0]);
}

/* ---- literals out of a statement for the audit trail ------------------------------------ */

/*
 * PostgreSQL's scanner finds the five constant kinds (and U& strings); each is replaced by
 * $n, numbered after the highest parameter the text already has, as pg_stat_statements
 * does. A constant's length is what the scanner NUL-terminated in its buffer (flex ends the
 * current token there). What lies between tokens is copied when it is only white space and
 * becomes one space otherwise: comments can hold what a literal would.
 */
struct norm_job {
	const char *sql;
	char *out;
	size_t cap, len;
	bool fail, nospace;
};

static void norm_put(struct norm_job *j, const char *p, size_t n)
{
	if (j->cap - j->len < n + 1) {
		j->fail = j->nospace = true;
		return;
	}
	memcpy(j->out + j->len, p, n);
	j->len += n;
}

static bool all_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\n\r\f\v", p[i]))
			return false;
	return true;
}

/* A byte that continues an identifier or a parameter: next to "$n" it would join it. */
static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

static void norm_run(void *arg)
{
	struct norm_job *j = arg;
	core_yy_extra_type extra;
	core_YYSTYPE v;
	YYLTYPE loc;
	core_yyscan_t sc = scanner_init(j->sql, &extra, &ScanKeywords, ScanKeywordTokens);
	size_t at = 0, total = strlen(j->sql), ntok = 0, cap = 64;
	int maxparam = 0, nconst = 0, t;
	struct {
		uint32_t start, len;
		bool lit;
	} *tok = palloc(cap * sizeof(*tok));

	/* one scan: every token's span, and the highest $n already there */
	while ((t = core_yylex(&v, &loc, sc)) > 0) {
		size_t start = (size_t)loc, tlen;

		if (start < at || start > total || start + (tlen = strlen(extra.scanbuf + start)) >
							       total) {
			j->fail = true;
			break;
		}
		/* libpg_query's scanner hands comments over as tokens of their own (its numbers
		 * for them are keywords' in the server headers): known by their text, which no
		 * other token starts with */
		if (tlen >= 2 && (!memcmp(extra.scanbuf + start, "--", 2) ||
				  !memcmp(extra.scanbuf + start, "/*", 2))) {
			at = start + tlen;
			continue;
		}
		if (ntok == cap)
			tok = repalloc(tok, (cap *= 2) * sizeof(*tok));
		tok[ntok].start = (uint32_t)start;
		tok[ntok].len = (uint32_t)tlen;
		tok[ntok++].lit = t == ICONST || t == FCONST || t == SCONST || t == BCONST ||
				  t == XCONST || t == USCONST;
		if (t == PARAM && v.ival > maxparam)
			maxparam = v.ival;
		at = start + tlen;
	}
	scanner_finish(sc);
	at = 0;
	for (size_t i = 0; i < ntok && !j->fail; i++) {
		if (all_space(j->sql + at, tok[i].start - at))
			norm_put(j, j->sql + at, tok[i].start - at);
		else
			norm_put(j, " ", 1);
		if (tok[i].lit) {
			char ph[16];
			int n = snprintf(ph, sizeof(ph), "$%d", maxparam + ++nconst);
			size_t end = tok[i].start + tok[i].len;

			/* a constant can touch a name ('x'l, E'..'ab): the placeholder must not run
			 * into it, or the text would not scan again as the same tokens */
			if (j->len && ident_char(j->out[j->len - 1]))
				norm_put(j, " ", 1);
			norm_put(j, ph, (size_t)n);
			if (end < total && ident_char(j->sql[end]))
				norm_put(j, " ", 1);
		} else {
			norm_put(j, j->sql + tok[i].start, tok[i].len);
		}
		at = tok[i].start + tok[i].len;
	}
	if (!j->fail && all_space(j->sql + at, total - at))
		norm_put(j, j->sql + at, total - at);
	else if (!j->fail)
		norm_put(j, " ", 1); /* a trailing comment */
	if (!j->fail)
		j->out[j->len] = '\0';
}

int rg_sqlraw_normalize(const char *sql, char *out, size_t cap, size_t *len)
{
	struct norm_job j = {.sql = sql, .out = out, .cap = cap};
	MemoryContext ctx = pg_query_enter_memory_context();
	int rc = rg_pg_guarded(norm_run, &j);

	pg_query_exit_memory_context(ctx);
	if (!rc && j.nospace)
		return -ENOSPC;
	if (rc || j.fail)
		return RG_SQLRAW_DECLINE;
	*len = j.len;
	return RG_SQLRAW_OK;
}
