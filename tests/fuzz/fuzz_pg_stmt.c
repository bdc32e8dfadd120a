/*
 * fuzz_pg_stmt: the statement tracker (engine/proto/pg/stmt.c) against a reference model of
 * the server, written here from PostgreSQL's documented behaviour and independent of the
 * tracker's code.
 *
 * The input is a script: each byte pair is one client action (Parse, Bind, Describe,
 * Execute, Close, Sync, Flush, Query with varying names, statements and result formats)
 * or a "deliver" step that lets the model server process some of the messages the client
 * pipelined. Every client message goes to rg_pg_stmt_fe when sent, every message the model
 * answers to rg_pg_stmt_be, in wire order. Invariants (abort() on violation): the tracker
 * accepts every backend message the model emits; for every DataRow it reports the column
 * count, types and formats the model used, and it reports the row described exactly when
 * the client was told the row's description (Describe of the portal or of the statement
 * it was bound from); a Bind the model executes against a named statement had its SQL text
 * predicted by rg_pg_stmt_lookup when the client sent it, and that statement was among the
 * versions rg_pg_stmt_rejudge judged for the name. Queries also PREPARE, DEALLOCATE [ALL] and
 * DISCARD ALL in SQL, and Parse'd statements PREPARE and DEALLOCATE when their portal is
 * executed (handed to the tracker as their effects), in the same namespace as Parse's
 * statements, refused as the server refuses them. Leaks are found by the sanitizer.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NNAMES 4	/* name 0 is the unnamed one */
#define ROWS 3		/* rows each portal yields */
#define QMAX 512	/* client messages waiting for the model server */

/* Statement kinds: the shapes of their results. */
/* K_PREP: "PREPARE s2 AS <A>" (its text a serial of its own); K_DEALLOC: "DEALLOCATE s2" */
enum kind { K_A, K_B, K_NODATA, K_SYNTAX, K_RUNTIME, K_BEGIN, K_COMMIT, K_PREP, K_DEALLOC, K__N };
#define PREP_NAME 2 /* the name K_PREP and K_DEALLOC act on */
static const uint16_t kind_ncols[K__N] = {3, 2, 0, 0, 3, 0, 0, 0, 0};
static const uint32_t kind_oids[K__N][3] = {{25, 23, 3802}, {1043, 17}, {0}, {0},
					     {114, 20, 25}};

static void die(const char *why)
{
	fprintf(stderr, "fuzz_pg_stmt: %s\n", why);
	abort();
}

/* ---- the model server ---------------------------------------------------------------- */

struct mstmt {
	bool live;
	uint8_t kind;
	uint32_t serial; /* which Parse made it: its SQL text */
	uint32_t pserial; /* K_PREP: the text of the statement it prepares */
	bool described;	 /* a Describe 'S' of this statement was answered */
};

struct mportal {
	bool live;
	uint8_t kind;
	int stmt;	  /* statement name index it was bound from */
	uint32_t sserial; /* that statement's serial at Bind */
	uint32_t pserial; /* K_PREP: what it prepares */
	bool described;	  /* Describe 'P' answered */
	bool desc_at_bind; /* its statement had been described when it was bound */
	uint16_t nfmt;
	int16_t fmt[3];
	int rows_left;
};

struct cmsg { /* a client message as the model server reads it */
	uint8_t type, sub;
	uint8_t a, b;	 /* names / kind */
	uint16_t nfmt;
	int16_t fmt[4];
	int32_t max_rows;
	bool lookup_ok;	      /* Bind: what rg_pg_stmt_lookup said at send time */
	uint32_t lookup_serial;
	uint32_t pserial; /* Parse of K_PREP, Query PREPARE: the prepared statement's text */
};

struct model {
	struct mstmt st[NNAMES];
	struct mportal po[NNAMES];
	bool skip;
	char tx; /* 'I' idle, 'T' block, 'E' failed block */
	struct cmsg q[QMAX];
	unsigned qh, qn;
	uint32_t serial;
};

static struct rg_pg_stmt T;
static struct model S;
static int trace = -1; /* FUZZ_STMT_TRACE=1: print the session, to read a failing input */
static jmp_buf ended; /* the tracker hit a limit: the session would end with a FATAL */
static bool judged_bound;
static uint8_t mb[1 << 14];
static size_t mn;

static void put(const void *p, size_t n)
{
	if (mn + n > sizeof(mb))
		die("builder overflow");
	memcpy(mb + mn, p, n);
	mn += n;
}
static void put8(uint8_t v)
{
	put(&v, 1);
}
static void put16(uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(x, 2);
}
static void put32(uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	put(x, 4);
}
static void puts0(const char *s)
{
	put(s, strlen(s) + 1);
}
static void begin(uint8_t type)
{
	mn = 0;
	put8(type);
	put32(0);
}
static struct rg_pg_msg done(void)
{
	struct rg_pg_msg m;
	uint32_t len = (uint32_t)(mn - 1);
	mb[1] = (uint8_t)(len >> 24);
	mb[2] = (uint8_t)(len >> 16);
	mb[3] = (uint8_t)(len >> 8);
	mb[4] = (uint8_t)len;
	if (rg_pg_msg_view(mb, mn, &m))
		die("view");
	return m;
}

static const char *name_of(int i)
{
	/* the last is longer than the 63 bytes the server keys names on */
	static const char *names[NNAMES] = {
	    "", "s1", "s2", "a_name_longer_than_sixty_three_bytes_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
	return names[i];
}

static void sql_of(char *out, size_t cap, uint8_t kind, uint32_t serial)
{
	snprintf(out, cap, "/*%u*/ kind %u", serial, kind);
}

/* ---- backend emission: the tracker must accept each message ------------------------ */

static void emit(const uint8_t *expect_oids, const struct rg_pg_shape **sh)
{
	(void)expect_oids;
	struct rg_pg_msg m = done();
	const struct rg_pg_shape *dummy;
	if (rg_pg_validate(RG_PG_BE, &m))
		die("model built an invalid backend message");
	if (trace)
		fprintf(stderr, "  <- %c\n", m.type);
	int r = rg_pg_stmt_be(&T, &m, sh ? sh : &dummy);
	if (r == RG_PG_STMT_E_LIMIT)
		longjmp(ended, 1);
	if (r)
		die(rg_pg_stmt_strerror(r));
}

static void be_empty(uint8_t type)
{
	begin(type);
	emit(NULL, NULL);
}

static void be_error(void)
{
	begin('E');
	put8('S');
	puts0("ERROR");
	put8('C');
	puts0("XX000");
	put8('M');
	puts0("model error");
	put8(0);
	emit(NULL, NULL);
}

static void be_rowdesc(uint8_t kind, const struct mportal *p)
{
	begin('T');
	put16(kind_ncols[kind]);
	for (uint16_t i = 0; i < kind_ncols[kind]; i++) {
		puts0("col");
		put32(16384 + kind);
		put16((uint16_t)(i + 1));
		put32(kind_oids[kind][i]);
		put16(0xffff);
		put32(0xffffffff);
		int16_t f = 0;
		if (p)
			f = p->nfmt == 0 ? 0 : p->nfmt == 1 ? p->fmt[0] : p->fmt[i];
		put16((uint16_t)f);
	}
	emit(NULL, NULL);
}

static void be_command(const char *tag)
{
	begin('C');
	puts0(tag);
	emit(NULL, NULL);
}

/* A DataRow of the portal's (or the simple query's) shape; checks what the tracker says. */
static void be_row(uint8_t kind, const struct mportal *p, bool described)
{
	const struct rg_pg_shape *sh = NULL;
	uint16_t n = kind_ncols[kind];

	begin('D');
	put16(n);
	for (uint16_t i = 0; i < n; i++) {
		put32(2);
		put("ab", 2);
	}
	emit(NULL, &sh);
	if (!sh || sh->ncols != n)
		die("row: column count");
	if (sh->described != described)
		die(described ? "row: description lost" : "row: description invented");
	for (uint16_t i = 0; i < n; i++) {
		int16_t f = 0;
		if (p)
			f = p->nfmt == 0 ? 0 : p->nfmt == 1 ? p->fmt[0] : p->fmt[i];
		if (sh->cols[i].format != f)
			die("row: format");
		if (described && sh->cols[i].type_oid != kind_oids[kind][i])
			die("row: type");
		if (!described && sh->cols[i].type_oid != 0)
			die("row: type without description");
	}
}

static void be_ready(void)
{
	begin('Z');
	put8((uint8_t)S.tx);
	emit(NULL, NULL);
}

/* ---- the model server's rules --------------------------------------------------------- */

static void portals_die(void)
{
	for (int i = 0; i < NNAMES; i++)
		S.po[i].live = false;
}

/* An error while processing an extended-protocol message. */
static void ext_error(void)
{
	be_error();
	S.skip = true;
	if (S.tx == 'T')
		S.tx = 'E';
	else if (S.tx == 'I')
		portals_die(); /* the implicit transaction aborts */
}

static void tx_effects(uint8_t kind)
{
	if (kind == K_BEGIN && S.tx == 'I')
		S.tx = 'T';
	if (kind == K_COMMIT) {
		S.tx = 'I';
		portals_die();
	}
}

static void srv_parse(const struct cmsg *c)
{
	struct mstmt *s = &S.st[c->a];

	if (c->a == 0)
		s->live = false; /* dropped before parsing, whatever happens next */
	if (S.tx == 'E' && c->b != K_COMMIT)
		return ext_error(); /* checked after parsing, in an aborted transaction */
	if (c->a != 0 && s->live)
		return ext_error(); /* already exists */
	if (c->b == K_SYNTAX)
		return ext_error();
	*s = (struct mstmt){
	    .live = true, .kind = c->b, .serial = c->lookup_serial, .pserial = c->pserial};
	be_empty('1');
}

static void srv_bind(const struct cmsg *c)
{
	struct mstmt *s = &S.st[c->b];
	struct mportal *p = &S.po[c->a];

	if (!s->live)
		return ext_error();
	if (S.tx == 'E' && s->kind != K_COMMIT)
		return ext_error();
	if (c->b != 0 && (!c->lookup_ok || c->lookup_serial != s->serial))
		die("lookup at Bind did not predict the statement the server binds");

	if (c->a != 0 && p->live)
		return ext_error(); /* cursor already exists */
	p->live = false;	    /* the unnamed one is replaced now */
	if (c->nfmt > 1 && c->nfmt != kind_ncols[s->kind] && kind_ncols[s->kind])
		return ext_error(); /* result formats vs columns, after the portal replaced */
	*p = (struct mportal){.live = true,
			      .kind = s->kind,
			      .stmt = c->b,
			      .sserial = s->serial,
			      .pserial = s->pserial,
			      .nfmt = c->nfmt,
			      .desc_at_bind = s->described,
			      .rows_left = ROWS};
	memcpy(p->fmt, c->fmt, sizeof(p->fmt));
	be_empty('2');
}

static bool portal_described(const struct mportal *p)
{
	const struct mstmt *s = &S.st[p->stmt];
	return p->described || p->desc_at_bind || (s->live && s->serial == p->sserial && s->described);
}

static void srv_describe(const struct cmsg *c)
{
	if (c->sub == 'S') {
		struct mstmt *s = &S.st[c->a];
		if (!s->live || S.tx == 'E')
			return ext_error();
		begin('t');
		put16(0);
		emit(NULL, NULL);
		if (kind_ncols[s->kind]) {
			be_rowdesc(s->kind, NULL);
			s->described = true;
		} else {
			be_empty('n');
		}
		return;
	}
	struct mportal *p = &S.po[c->a];
	if (!p->live || S.tx == 'E')
		return ext_error();
	if (kind_ncols[p->kind]) {
		be_rowdesc(p->kind, p);
		p->described = true;
	} else {
		be_empty('n');
	}
}

static void srv_execute(const struct cmsg *c)
{
	struct mportal *p = &S.po[c->a];

	if (!p->live)
		return ext_error();
	if (S.tx == 'E' && p->kind != K_COMMIT)
		return ext_error();
	if (p->kind == K_PREP || p->kind == K_DEALLOC) {
		struct mstmt *t = &S.st[PREP_NAME];
		if (t->live != (p->kind == K_DEALLOC))
			return ext_error(); /* 42P05 exists, or 26000 does not */
		if (p->kind == K_PREP)
			*t = (struct mstmt){.live = true, .kind = K_A, .serial = p->pserial};
		else
			t->live = false;
		be_command(p->kind == K_PREP ? "PREPARE" : "DEALLOCATE");
		return;
	}
	if (!kind_ncols[p->kind]) {
		tx_effects(p->kind);
		be_command(p->kind == K_NODATA ? "INSERT 0 1" : p->kind == K_BEGIN ? "BEGIN"
										      : "COMMIT");
		if (p->kind == K_COMMIT || p->kind == K_BEGIN)
			p->rows_left = 0;
		return;
	}
	int n = c->max_rows > 0 && c->max_rows < p->rows_left ? c->max_rows : p->rows_left;
	bool desc = portal_described(p);
	p->described = desc; /* a portal keeps its shape when its statement goes */
	for (int i = 0; i < n; i++) {
		be_row(p->kind, p, desc);
		if (p->kind == K_RUNTIME)
			return ext_error();
	}
	p->rows_left -= n;
	if (p->rows_left > 0)
		be_empty('s');
	else
		be_command("SELECT 3");
}

static void srv_close(const struct cmsg *c)
{
	if (c->sub == 'S')
		S.st[c->a].live = false;
	else
		S.po[c->a].live = false;
	be_empty('3');
}

static void srv_sync(void)
{
	S.skip = false;
	if (S.tx == 'I')
		portals_die(); /* the implicit transaction commits */
	be_ready();
}

/* Query kinds: 0 select A, 1 select B, 2 begin, 3 commit, 4 error, 5 empty, 6 A;B, 7 insert,
 * 8 PREPARE name b (serial lookup_serial), 9 DEALLOCATE name b, 10 DEALLOCATE ALL,
 * 11 DISCARD ALL */
static void srv_query(const struct cmsg *c)
{
	S.st[0].live = false;
	S.po[0].live = false;
	switch (c->a) {
	case 8:
	case 9:
		if (S.tx == 'E' || S.st[c->b].live != (c->a == 9)) {
			be_error(); /* 25P02, 42P05 (exists) or 26000 (does not) */
			if (S.tx == 'T')
				S.tx = 'E';
			break;
		}
		if (c->a == 8)
			S.st[c->b] =
			    (struct mstmt){.live = true, .kind = K_A, .serial = c->lookup_serial};
		else
			S.st[c->b].live = false;
		be_command(c->a == 8 ? "PREPARE" : "DEALLOCATE");
		break;
	case 10:
	case 11:
		if (S.tx == 'E' || (c->a == 11 && S.tx == 'T')) {
			be_error(); /* DISCARD ALL cannot run inside a transaction block */
			if (S.tx == 'T')
				S.tx = 'E';
			break;
		}
		for (int i = 1; i < NNAMES; i++)
			S.st[i].live = false;
		if (c->a == 11)
			portals_die();
		be_command(c->a == 10 ? "DEALLOCATE ALL" : "DISCARD ALL");
		break;
	case 0:
	case 1:
	case 6:
		if (S.tx == 'E') {
			be_error();
			break;
		}
		for (int part = 0; part < (c->a == 6 ? 2 : 1); part++) {
			uint8_t kind = c->a == 1 || part == 1 ? K_B : K_A;
			be_rowdesc(kind, NULL);
			for (int i = 0; i < 2; i++)
				be_row(kind, NULL, true);
			be_command("SELECT 2");
		}
		break;
	case 2:
		if (S.tx == 'E') {
			be_error();
			break;
		}
		tx_effects(K_BEGIN);
		be_command("BEGIN");
		break;
	case 3:
		tx_effects(K_COMMIT);
		be_command("COMMIT");
		break;
	case 4:
		be_error();
		if (S.tx == 'T')
			S.tx = 'E';
		break;
	case 5:
		be_empty('I');
		break;
	default:
		if (S.tx == 'E') {
			be_error();
			break;
		}
		be_command("INSERT 0 1");
		break;
	}
	if (S.tx == 'I')
		portals_die();
	be_ready();
}

static void deliver(unsigned n)
{
	while (n-- && S.qn) {
		struct cmsg *c = &S.q[S.qh];
		S.qh = (S.qh + 1) % QMAX;
		S.qn--;
		if (c->type == 'S') {
			srv_sync();
			continue;
		}
		if (S.skip)
			continue;
		if (trace)
			fprintf(stderr, " srv %c %c %u %u tx %c\n", c->type, c->sub ? c->sub : ' ',
				c->a, c->b, S.tx);
		switch (c->type) {
		case 'P':
			srv_parse(c);
			break;
		case 'B':
			srv_bind(c);
			break;
		case 'D':
			srv_describe(c);
			break;
		case 'E':
			srv_execute(c);
			break;
		case 'C':
			srv_close(c);
			break;
		case 'Q':
			srv_query(c);
			break;
		default:
			break;
		}
	}
}

/* ---- the client ------------------------------------------------------------------------ */

/* rg_pg_stmt_rejudge's callback: was the version lookup predicts (the one the server binds,
 * checked at Bind) among those judged? */
static bool judge_note(void *arg, const char *sql, uint32_t len)
{
	const struct cmsg *c = arg;
	char b[32];
	unsigned serial;

	snprintf(b, sizeof(b), "%.*s", (int)(len < 31 ? len : 31), sql);
	if (sscanf(b, "/*%u*/", &serial) != 1)
		die("rejudge text");
	if (c->lookup_ok && serial == c->lookup_serial)
		judged_bound = true;
	return true;
}

/* Send one message: the tracker sees it, the model server queues it. false: stop. */
static bool csend(struct cmsg *c, const struct rg_pg_sqlfx *fx, uint32_t nfx)
{
	struct rg_pg_msg m = done();
	if (rg_pg_validate(RG_PG_FE, &m))
		die("client built an invalid frontend message");
	if (trace)
		fprintf(stderr, "-> %c %c %u %u nfmt %u\n", c->type, c->sub ? c->sub : ' ', c->a,
			c->b, c->nfmt);
	int r = rg_pg_stmt_fe_sql(&T, &m, 1, fx, nfx);
	if (r == RG_PG_STMT_E_LIMIT)
		return false; /* the session would end here */
	if (r)
		die(rg_pg_stmt_strerror(r));
	if (c->type == 'H')
		return true;
	if (S.qn == QMAX)
		deliver(QMAX / 2);
	S.q[(S.qh + S.qn) % QMAX] = *c;
	S.qn++;
	return true;
}

static bool client(uint8_t op, uint8_t arg)
{
	struct cmsg c = {0};
	char sql[64];
	const char *lsql;

	switch (op % 10) {
	case 0: /* Parse */
		c.type = 'P';
		c.a = arg % NNAMES;
		c.b = (arg / NNAMES) % K__N;
		c.lookup_serial = ++S.serial;
		sql_of(sql, sizeof(sql), c.b, c.lookup_serial);
		begin('P');
		puts0(name_of(c.a));
		puts0(sql);
		put16(0);
		if (c.b == K_PREP || c.b == K_DEALLOC) {
			char psql[64];
			struct rg_pg_sqlfx fx = {.name = name_of(PREP_NAME)};
			fx.name_len = strlen(fx.name);
			fx.kind = c.b == K_PREP ? RG_PG_FX_PREPARE : RG_PG_FX_DEALLOCATE;
			if (c.b == K_PREP) {
				c.pserial = ++S.serial;
				sql_of(psql, sizeof(psql), K_A, c.pserial);
				fx.sql = psql;
				fx.sql_len = (uint32_t)strlen(psql);
			}
			return csend(&c, &fx, 1);
		}
		return csend(&c, NULL, 0);
	case 1: /* Bind */
	case 2:
		c.type = 'B';
		c.a = arg % NNAMES;
		c.b = (arg / NNAMES) % NNAMES;
		c.nfmt = (uint16_t)((arg >> 4) % 5); /* 0, 1, 2, 3 or 4 codes */
		for (int i = 0; i < c.nfmt && i < 4; i++)
			c.fmt[i] = (int16_t)((arg >> (i + 2)) & 1);
		if (c.nfmt > 3)
			c.nfmt = 3;
		if (c.b) {
			uint32_t len;
			int r = rg_pg_stmt_lookup(&T, name_of(c.b), strlen(name_of(c.b)), &lsql,
						  &len, NULL);
			if (r == RG_PG_STMT_UNSETTLED) {
				/* the session holds the Bind until the target answered */
				deliver(QMAX);
				r = rg_pg_stmt_lookup(&T, name_of(c.b), strlen(name_of(c.b)), &lsql,
						      &len, NULL);
				if (r == RG_PG_STMT_UNSETTLED)
					die("lookup still unsettled with nothing pending");
			}
			c.lookup_ok = r == 1;
			if (c.lookup_ok && sscanf(lsql, "/*%u*/", &c.lookup_serial) != 1)
				die("lookup text");
			/* a generation newer than any: every version is judged */
			static uint64_t cur = 1;
			judged_bound = false;
			if (!rg_pg_stmt_rejudge(&T, name_of(c.b), strlen(name_of(c.b)), ++cur,
						judge_note, &c))
				die("rejudge denied what the judge allowed");
			if (c.lookup_ok && !judged_bound)
				die("rejudge at Bind did not judge the statement lookup predicts");
		}
		begin('B');
		puts0(name_of(c.a));
		puts0(name_of(c.b));
		put16(0);
		put16(0);
		put16(c.nfmt);
		for (int i = 0; i < c.nfmt; i++)
			put16((uint16_t)c.fmt[i]);
		return csend(&c, NULL, 0);
	case 3: /* Describe */
	case 4: /* Close */
		c.type = op % 10 == 3 ? 'D' : 'C';
		c.sub = arg & 1 ? 'P' : 'S';
		c.a = (arg >> 1) % NNAMES;
		begin(c.type);
		put8(c.sub);
		puts0(name_of(c.a));
		return csend(&c, NULL, 0);
	case 5: /* Execute */
		c.type = 'E';
		c.a = arg % NNAMES;
		c.max_rows = (arg >> 2) % 4;
		begin('E');
		puts0(name_of(c.a));
		put32((uint32_t)c.max_rows);
		return csend(&c, NULL, 0);
	case 6:
		c.type = arg & 1 ? 'H' : 'S';
		begin(c.type);
		return csend(&c, NULL, 0);
	case 7: { /* Query */
		struct rg_pg_sqlfx fx = {0};
		c.type = 'Q';
		c.a = arg % 12;
		c.b = (uint8_t)(1 + (arg / 12) % (NNAMES - 1));
		begin('Q');
		if (c.a < 8) {
			puts0("query");
			return csend(&c, NULL, 0);
		}
		fx.kind = c.a == 8    ? RG_PG_FX_PREPARE
			  : c.a == 9  ? RG_PG_FX_DEALLOCATE
			  : c.a == 10 ? RG_PG_FX_DEALLOCATE_ALL
				      : RG_PG_FX_DISCARD_ALL;
		if (c.a <= 9) {
			fx.name = name_of(c.b);
			fx.name_len = strlen(fx.name);
		}
		if (c.a == 8) {
			c.lookup_serial = ++S.serial;
			sql_of(sql, sizeof(sql), K_A, c.lookup_serial);
			fx.sql = sql;
			fx.sql_len = (uint32_t)strlen(sql);
		}
		puts0(c.a == 8 ? sql : "sql-level");
		return csend(&c, &fx, 1);
	}
	default:
		deliver(arg % 8 + 1);
		return true;
	}
}

/* The client's actions, then every answer; ends early (longjmp) when a limit is hit. */
static void script(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 1 < size; i += 2) {
		if (!client(data[i], data[i + 1]))
			return;
		if (rg_pg_stmt_pending(&T) > QMAX)
			die("pending grows past what was sent");
	}
	deliver(QMAX);
	if (rg_pg_stmt_pending(&T) != 0)
		die("requests left pending after every answer");
	rg_pg_stmt_trim(&T);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rg_pg_stmt_limits tight;

	if (trace < 0)
		trace = getenv("FUZZ_STMT_TRACE") != NULL;
	memset(&S, 0, sizeof(S));
	S.tx = 'I';
	if (size && (data[0] & 1)) {
		tight = *rg_pg_stmt_limits_default();
		tight.max_statements = 2;
		tight.max_portals = 2;
		tight.max_pending = 16;
		tight.max_desc_cols = 8;
		tight.max_sql_bytes = 40;
		rg_pg_stmt_init(&T, &tight);
	} else {
		rg_pg_stmt_init(&T, NULL);
	}
	if (size && !setjmp(ended))
		script(data + 1, size - 1);
	rg_pg_stmt_free(&T);
	return 0;
}
