/*
 * Unit tests for engine/proto/mysql/rows.c: column count and ColumnDefinition41 (with
 * MariaDB's extended metadata and COM_FIELD_LIST defaults), text rows with NULLs and field
 * spans, the binary value size of every MYSQL_TYPE_*, binary rows with the NULL bitmap's
 * offset of 2, COM_STMT_PREPARE's answer, and the statement commands: COM_STMT_EXECUTE with
 * parameters of several types, NULLs, rebinding and long data. Every reader gets every
 * strict prefix of a valid payload and must fail cleanly.
 */
#include "kit.h"

#define S(lit) ((struct rg_my_str){(const uint8_t *)(lit), sizeof(lit) - 1, 0})

/* ---- Column definitions ------------------------------------------------------------------ */

static int rd_column(const uint8_t *p, size_t n, void *ctx)
{
	return rg_my_read_column(p, n, 0, false, ctx);
}

static void test_column_roundtrip_and_prefixes(void **state)
{
	struct rg_my_column c = {0}, c2;
	uint8_t buf[256];
	ssize_t n;
	(void)state;

	c.catalog = S("def");
	c.schema = S("shop");
	c.table = S("c");
	c.org_table = S("customers");
	c.name = S("card");
	c.org_name = S("card_number");
	c.charset = 45;
	c.length = 80;
	c.type = RG_MY_TYPE_VAR_STRING;
	c.flags = RG_MY_NOT_NULL_FLAG;
	c.decimals = 0x1f;
	n = rg_my_write_column(buf, sizeof(buf), 2, &c);
	assert_true(n > 0);
	assert_int_equal(buf[3], 2);
	assert_whole_ok_prefixes_fail(rd_column, PAYLOAD(buf), PLEN(n), &c2);
	assert_int_equal(rg_my_read_column(PAYLOAD(buf), PLEN(n), 0, false, &c2), 0);
	assert_memory_equal(c2.schema.p, "shop", 4);
	assert_memory_equal(c2.org_table.p, "customers", 9);
	assert_memory_equal(c2.name.p, "card", 4);
	assert_memory_equal(c2.org_name.p, "card_number", 11);
	assert_int_equal(c2.charset, 45);
	assert_int_equal(c2.length, 80);
	assert_int_equal(c2.type, RG_MY_TYPE_VAR_STRING);
	assert_int_equal(c2.flags, RG_MY_NOT_NULL_FLAG);
	assert_int_equal(c2.decimals, 0x1f);
	assert_false(c2.has_defval);
	/* trailing byte; fixed-field length other than 0x0c */
	assert_int_equal(rg_my_read_column(PAYLOAD(buf), PLEN(n) + 1, 0, false, &c2),
			 RG_MY_E_TRAILING);
	PAYLOAD(buf)[PLEN(n) - 13] = 0x0d;
	assert_int_equal(rg_my_read_column(PAYLOAD(buf), PLEN(n), 0, false, &c2), RG_MY_E_VALUE);
}

static void test_column_mariadb_extended_metadata_and_field_list_default(void **state)
{
	/* "def", "d", "t", "t", "j", "j", ext {0: "json"}, 0x0c, fixed fields */
	const uint8_t p[] = {3,
			     'd',
			     'e',
			     'f',
			     1,
			     'd',
			     1,
			     't',
			     1,
			     't',
			     1,
			     'j',
			     1,
			     'j',
			     6,
			     0,
			     4,
			     'j',
			     's',
			     'o',
			     'n',
			     0x0c,
			     0x2d,
			     0,
			     0xff,
			     0xff,
			     0xff,
			     0x0f,
			     RG_MY_TYPE_BLOB,
			     0x90,
			     0,
			     0,
			     0,
			     0};
	uint8_t with_def[sizeof(p) + 4];
	struct rg_my_column c;
	(void)state;

	assert_int_equal(
	    rg_my_read_column(p, sizeof(p), RG_MY_MARIADB_CLIENT_EXTENDED_METADATA, false, &c), 0);
	assert_int_equal(c.ext.len, 6);
	assert_int_equal(c.ext.p[0], 0);
	assert_memory_equal(c.ext.p + 2, "json", 4);
	assert_int_equal(c.type, RG_MY_TYPE_BLOB);
	assert_int_equal(c.length, 0x0fffffff);
	/* the same bytes without the capability do not parse (6 is not 0x0c) */
	assert_true(rg_my_read_column(p, sizeof(p), 0, false, &c) < 0);
	/* COM_FIELD_LIST: a default value may follow; NULL default; absent */
	memcpy(with_def, p, sizeof(p));
	memcpy(with_def + sizeof(p),
	       "\x03"
	       "abc",
	       4);
	assert_int_equal(rg_my_read_column(with_def, sizeof(with_def),
					   RG_MY_MARIADB_CLIENT_EXTENDED_METADATA, true, &c),
			 0);
	assert_true(c.has_defval);
	assert_memory_equal(c.defval.p, "abc", 3);
	assert_int_equal(rg_my_read_column(with_def, sizeof(with_def),
					   RG_MY_MARIADB_CLIENT_EXTENDED_METADATA, false, &c),
			 RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_column(with_def, sizeof(with_def) - 1,
					   RG_MY_MARIADB_CLIENT_EXTENDED_METADATA, true, &c),
			 RG_MY_E_TRUNCATED);
	with_def[sizeof(p)] = 0xfb;
	assert_int_equal(rg_my_read_column(with_def, sizeof(p) + 1,
					   RG_MY_MARIADB_CLIENT_EXTENDED_METADATA, true, &c),
			 0);
	assert_false(c.has_defval);
}

static void test_column_count(void **state)
{
	uint64_t n;
	(void)state;

	assert_int_equal(rg_my_read_column_count(BYTES(3), 1, 0, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rg_my_read_column_count(BYTES(0xfc, 0x00, 0x01), 3, 0, &n), 0);
	assert_int_equal(n, 256);
	assert_int_equal(rg_my_read_column_count(BYTES(0xfc, 0x00), 2, 0, &n), RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_read_column_count(BYTES(3, 1), 2, 0, &n), RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_column_count(BYTES(0, 0, 0, 2, 0, 0, 0), 7, 0, &n),
			 RG_MY_E_WRONG_TYPE);
	assert_int_equal(rg_my_read_column_count(BYTES(0xfb, 'f'), 2, 0, &n), RG_MY_E_WRONG_TYPE);
	assert_int_equal(
	    rg_my_read_column_count(BYTES(3, 1), 2, RG_MY_MARIADB_CLIENT_CACHE_METADATA, &n),
	    RG_MY_E_PROTOCOL);
	assert_int_equal(rg_my_read_column_count(BYTES(0), 0, 0, &n), RG_MY_E_TRUNCATED);
}

/* ---- Text rows ----------------------------------------------------------------------------- */

struct row_ctx {
	uint32_t ncols;
	const uint8_t *types;
	struct rg_my_field f[16];
};

static int rd_text_row(const uint8_t *p, size_t n, void *ctx)
{
	struct row_ctx *c = ctx;

	return rg_my_read_text_row(p, n, c->ncols, c->f, 16);
}

static void test_text_row_fields_nulls_and_spans(void **state)
{
	char big[300];
	struct rg_my_value v[4] = {{"42", 2}, {NULL, 0}, {"", 0}, {big, sizeof(big)}};
	struct row_ctx c = {.ncols = 4};
	uint8_t buf[512];
	ssize_t n;
	(void)state;

	memset(big, 'b', sizeof(big));
	n = rg_my_write_text_row(buf, sizeof(buf), 3, v, 4);
	assert_int_equal(n, 4 + 3 + 1 + 1 + 3 + 300);
	assert_whole_ok_prefixes_fail(rd_text_row, PAYLOAD(buf), PLEN(n), &c);
	assert_int_equal(rg_my_read_text_row(PAYLOAD(buf), PLEN(n), 4, c.f, 16), 0);
	assert_int_equal(c.f[0].off, 1);
	assert_int_equal(c.f[0].len, 2);
	assert_memory_equal(PAYLOAD(buf) + c.f[0].off, "42", 2);
	assert_true(c.f[1].is_null);
	assert_false(c.f[2].is_null);
	assert_int_equal(c.f[2].len, 0);
	assert_int_equal(c.f[3].off, 1 + 2 + 1 + 1 + 3);
	assert_int_equal(c.f[3].len, 300);
	/* column count mismatch both ways, caller's array too small */
	assert_int_equal(rg_my_read_text_row(PAYLOAD(buf), PLEN(n), 3, c.f, 16), RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_text_row(PAYLOAD(buf), PLEN(n), 5, c.f, 16), RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_read_text_row(PAYLOAD(buf), PLEN(n), 4, c.f, 3), RG_MY_E_TOO_MANY);
	/* EOF / OK-as-EOF and ERR are not rows; 0xff inside is not a length */
	assert_int_equal(rg_my_read_text_row(BYTES(0xfe, 0, 0, 2, 0), 5, 1, c.f, 16),
			 RG_MY_E_WRONG_TYPE);
	assert_int_equal(rg_my_read_text_row(BYTES(0xff, 1, 0), 3, 1, c.f, 16), RG_MY_E_WRONG_TYPE);
	assert_int_equal(rg_my_read_text_row(BYTES(1, 'a', 0xff), 3, 2, c.f, 16), RG_MY_E_VALUE);
}

/* ---- Binary protocol --------------------------------------------------------------------- */

static void test_binary_value_size_of_every_type(void **state)
{
	static const struct {
		uint8_t type;
		size_t used;
		uint32_t off;
		uint64_t len;
	} fixed[] = {
	    {RG_MY_TYPE_TINY, 1, 0, 1},	    {RG_MY_TYPE_SHORT, 2, 0, 2},
	    {RG_MY_TYPE_YEAR, 2, 0, 2},	    {RG_MY_TYPE_LONG, 4, 0, 4},
	    {RG_MY_TYPE_INT24, 4, 0, 4},    {RG_MY_TYPE_FLOAT, 4, 0, 4},
	    {RG_MY_TYPE_LONGLONG, 8, 0, 8}, {RG_MY_TYPE_DOUBLE, 8, 0, 8},
	    {RG_MY_TYPE_NULL, 0, 0, 0},
	};
	static const uint8_t lenenc_types[] = {
	    RG_MY_TYPE_DECIMAL,	  RG_MY_TYPE_NEWDECIMAL,  RG_MY_TYPE_VARCHAR,
	    RG_MY_TYPE_BIT,	  RG_MY_TYPE_ENUM,	  RG_MY_TYPE_SET,
	    RG_MY_TYPE_TINY_BLOB, RG_MY_TYPE_MEDIUM_BLOB, RG_MY_TYPE_LONG_BLOB,
	    RG_MY_TYPE_BLOB,	  RG_MY_TYPE_VAR_STRING,  RG_MY_TYPE_STRING,
	    RG_MY_TYPE_GEOMETRY,  RG_MY_TYPE_JSON,	  RG_MY_TYPE_VECTOR,
	};
	static const uint8_t never[] = {RG_MY_TYPE_NEWDATE,
					RG_MY_TYPE_TIMESTAMP2,
					RG_MY_TYPE_DATETIME2,
					RG_MY_TYPE_TIME2,
					RG_MY_TYPE_TYPED_ARRAY,
					RG_MY_TYPE_INVALID,
					RG_MY_TYPE_BOOL,
					21,
					100,
					241};
	uint8_t val[16] = {11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
	uint32_t off;
	uint64_t len;
	(void)state;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		assert_int_equal(rg_my_binary_value(fixed[i].type, val, 16, &off, &len),
				 (ssize_t)fixed[i].used);
		assert_int_equal(off, fixed[i].off);
		assert_int_equal(len, fixed[i].len);
		if (fixed[i].used)
			assert_int_equal(
			    rg_my_binary_value(fixed[i].type, val, fixed[i].used - 1, &off, &len),
			    RG_MY_E_TRUNCATED);
	}
	for (size_t i = 0; i < sizeof(lenenc_types); i++) {
		assert_int_equal(
		    rg_my_binary_value(lenenc_types[i], BYTES(3, 'a', 'b', 'c'), 4, &off, &len), 4);
		assert_int_equal(off, 1);
		assert_int_equal(len, 3);
		assert_int_equal(
		    rg_my_binary_value(lenenc_types[i], BYTES(3, 'a', 'b'), 3, &off, &len),
		    RG_MY_E_TRUNCATED);
		assert_int_equal(rg_my_binary_value(lenenc_types[i], BYTES(0xfb), 1, &off, &len),
				 RG_MY_E_VALUE);
	}
	for (size_t i = 0; i < sizeof(never); i++)
		assert_int_equal(rg_my_binary_value(never[i], val, 16, &off, &len), RG_MY_E_VALUE);
	/* temporal: a length byte, then 0/4/7/11 (dates) or 0/8/12 (time) */
	for (uint8_t l = 0; l < 14; l++) {
		bool date_ok = l == 0 || l == 4 || l == 7 || l == 11;
		bool time_ok = l == 0 || l == 8 || l == 12;

		val[0] = l;
		assert_int_equal(rg_my_binary_value(RG_MY_TYPE_DATETIME, val, 16, &off, &len),
				 date_ok ? 1 + l : RG_MY_E_VALUE);
		assert_int_equal(rg_my_binary_value(RG_MY_TYPE_DATE, val, 16, &off, &len),
				 date_ok ? 1 + l : RG_MY_E_VALUE);
		assert_int_equal(rg_my_binary_value(RG_MY_TYPE_TIMESTAMP, val, 16, &off, &len),
				 date_ok ? 1 + l : RG_MY_E_VALUE);
		assert_int_equal(rg_my_binary_value(RG_MY_TYPE_TIME, val, 16, &off, &len),
				 time_ok ? 1 + l : RG_MY_E_VALUE);
		if (time_ok && l) {
			assert_int_equal(off, 1);
			assert_int_equal(len, l);
			assert_int_equal(rg_my_binary_value(RG_MY_TYPE_TIME, val, l, &off, &len),
					 RG_MY_E_TRUNCATED);
		}
	}
	assert_int_equal(rg_my_binary_value(RG_MY_TYPE_TIME, val, 0, &off, &len),
			 RG_MY_E_TRUNCATED);
}

static int rd_binary_row(const uint8_t *p, size_t n, void *ctx)
{
	struct row_ctx *c = ctx;

	return rg_my_read_binary_row(p, n, c->ncols, c->types, c->f, 16);
}

static void test_binary_row_bitmap_offset_two(void **state)
{
	/* 9 columns: a 2-byte bitmap ((9 + 9) / 8); columns 1 and 7 NULL: bits 3 and 9 */
	const uint8_t types[9] = {RG_MY_TYPE_LONGLONG, RG_MY_TYPE_STRING, RG_MY_TYPE_TINY,
				  RG_MY_TYPE_DATETIME, RG_MY_TYPE_DOUBLE, RG_MY_TYPE_NEWDECIMAL,
				  RG_MY_TYPE_TIME,     RG_MY_TYPE_BLOB,	  RG_MY_TYPE_SHORT};
	const uint8_t p[] = {0x00, 0x08, 0x02,				   /* header, bitmap */
			     1,	   0,	 0,    0,   0,	 0, 0,	  0,	   /* c0 longlong 1 */
			     0x7f,					   /* c2 tiny */
			     7,	   0xea, 0x07, 12,  2,	 9, 30,	  0,	   /* c3 datetime */
			     0,	   0,	 0,    0,   0,	 0, 0xf0, 0x3f,	   /* c4 double 1.0 */
			     4,	   '3',	 '.',  '1', '4',		   /* c5 decimal */
			     8,	   0,	 1,    0,   0,	 0, 2,	  3,	4, /* c6 time */
			     0x34, 0x12};				   /* c8 short */
	struct row_ctx c = {.ncols = 9, .types = types};
	(void)state;

	assert_whole_ok_prefixes_fail(rd_binary_row, p, sizeof(p), &c);
	assert_int_equal(rg_my_read_binary_row(p, sizeof(p), 9, types, c.f, 16), 0);
	assert_false(c.f[0].is_null);
	assert_int_equal(c.f[0].off, 3);
	assert_int_equal(c.f[0].len, 8);
	assert_true(c.f[1].is_null);
	assert_int_equal(c.f[2].off, 11);
	assert_int_equal(c.f[3].off, 13);
	assert_int_equal(c.f[3].len, 7);
	assert_int_equal(c.f[5].off, 29);
	assert_memory_equal(p + c.f[5].off, "3.14", 4);
	assert_true(c.f[7].is_null);
	assert_int_equal(c.f[8].off, sizeof(p) - 2);
	/* the same bytes with one column more or less */
	assert_int_equal(rg_my_read_binary_row(p, sizeof(p), 8, types, c.f, 16), RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_binary_row(p, sizeof(p), 9, types, c.f, 8), RG_MY_E_TOO_MANY);
	assert_int_equal(rg_my_read_binary_row(BYTES(0x01, 0), 2, 1, types, c.f, 16),
			 RG_MY_E_WRONG_TYPE);
	assert_int_equal(rg_my_read_binary_row(BYTES(0xfe, 0, 0, 2, 0, 0, 0), 7, 1, types, c.f, 16),
			 RG_MY_E_WRONG_TYPE);
}

/* ---- Prepared statements ----------------------------------------------------------------- */

static int rd_prepare_ok(const uint8_t *p, size_t n, void *ctx)
{
	return rg_my_read_prepare_ok(p, n, ctx);
}

static void test_prepare_ok(void **state)
{
	struct rg_my_prepare_ok ok = {.stmt_id = 7, .ncols = 3, .nparams = 2, .warnings = 1}, o2;
	uint8_t buf[32];
	ssize_t n;
	(void)state;

	n = rg_my_write_prepare_ok(buf, sizeof(buf), 1, &ok);
	assert_int_equal(n, 16);
	assert_int_equal(rg_my_read_prepare_ok(PAYLOAD(buf), 12, &o2), 0);
	assert_int_equal(o2.stmt_id, 7);
	assert_int_equal(o2.ncols, 3);
	assert_int_equal(o2.nparams, 2);
	assert_int_equal(o2.warnings, 1);
	/* 10 bytes (no warning count) is accepted as old servers send it; other prefixes fail */
	for (size_t k = 0; k < 12; k++)
		if (k != 10)
			assert_true(run_reader(rd_prepare_ok, PAYLOAD(buf), k, &o2) < 0);
	assert_int_equal(rg_my_read_prepare_ok(PAYLOAD(buf), 13, &o2), RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_prepare_ok(BYTES(0xff, 1, 0), 3, &o2), RG_MY_E_WRONG_TYPE);
}

struct exec_ctx {
	uint16_t nparams;
	const uint8_t *prev, *long_data;
	struct rg_my_execute ex;
	struct rg_my_param par[8];
};

static int rd_execute(const uint8_t *p, size_t n, void *ctx)
{
	struct exec_ctx *c = ctx;

	return rg_my_read_execute(p, n, c->nparams, c->prev, c->long_data, &c->ex, c->par, 8);
}

static void test_execute_params_of_several_types(void **state)
{
	const uint8_t types[] = {RG_MY_TYPE_LONGLONG,	RG_MY_PARAM_UNSIGNED,
				 RG_MY_TYPE_VAR_STRING, 0,
				 RG_MY_TYPE_DOUBLE,	0,
				 RG_MY_TYPE_NULL,	0,
				 RG_MY_TYPE_DATETIME,	0,
				 RG_MY_TYPE_BLOB,	0};
	const uint8_t i64[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const uint8_t dbl[8] = {0, 0, 0, 0, 0, 0, 0x04, 0x40};
	const uint8_t dt[7] = {0xea, 0x07, 12, 2, 9, 30, 0};
	struct rg_my_value v[6] = {{i64, 8},  {"o'hara", 6}, {dbl, 8},
				   {NULL, 0}, {dt, 7},	     {NULL, 0}};
	struct exec_ctx c = {.nparams = 6};
	uint8_t buf[256];
	ssize_t n;
	(void)state;

	n = rg_my_write_execute(buf, sizeof(buf), 9, RG_MY_CURSOR_TYPE_READ_ONLY, types, v, 6);
	assert_true(n > 0);
	assert_int_equal(buf[3], 0);
	assert_whole_ok_prefixes_fail(rd_execute, PAYLOAD(buf), PLEN(n), &c);
	assert_int_equal(rd_execute(PAYLOAD(buf), PLEN(n), &c), 0);
	assert_int_equal(c.ex.stmt_id, 9);
	assert_int_equal(c.ex.flags, RG_MY_CURSOR_TYPE_READ_ONLY);
	assert_int_equal(c.ex.iterations, 1);
	assert_true(c.ex.new_params_bound);
	assert_int_equal(c.par[0].type, RG_MY_TYPE_LONGLONG);
	assert_true(c.par[0].is_unsigned);
	assert_int_equal(c.par[0].len, 8);
	assert_memory_equal(PAYLOAD(buf) + c.par[0].off, i64, 8);
	assert_int_equal(c.par[1].len, 6);
	assert_memory_equal(PAYLOAD(buf) + c.par[1].off, "o'hara", 6);
	assert_memory_equal(PAYLOAD(buf) + c.par[2].off, dbl, 8);
	assert_true(c.par[3].is_null);
	assert_int_equal(c.par[4].len, 7);
	assert_memory_equal(PAYLOAD(buf) + c.par[4].off, dt, 7);
	assert_true(c.par[5].is_null);
	assert_int_equal(rd_execute(PAYLOAD(buf), PLEN(n) + 1, &c), RG_MY_E_TRAILING);
	/* a wrong parameter count from the statement table shifts everything: refused */
	c.nparams = 5;
	assert_true(rd_execute(PAYLOAD(buf), PLEN(n), &c) < 0);
	/* bad builder inputs */
	v[0].len = 4;
	assert_int_equal(rg_my_write_execute(buf, sizeof(buf), 9, 0, types, v, 6), RG_MY_E_ARG);
}

static void test_execute_rebind_long_data_and_refusals(void **state)
{
	/* 2 params, not rebound: types from the previous execution */
	const uint8_t prev[] = {RG_MY_TYPE_LONG, 0, RG_MY_TYPE_STRING, 0};
	const uint8_t p[] = {0x17, 1,	 0, 0, 0, 0,   1,  0, 0, 0, /* id 1, flags, iterations */
			     0x00, 0x00,			    /* bitmap, not rebound */
			     5,	   0,	 0, 0, 2, 'h', 'i'};
	const uint8_t p_long[] = {0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x00, 5, 0, 0, 0};
	const uint8_t long_bit[] = {0x02};
	struct exec_ctx c = {.nparams = 2, .prev = prev};
	uint8_t bad[sizeof(p)];
	(void)state;

	assert_whole_ok_prefixes_fail(rd_execute, p, sizeof(p), &c);
	assert_int_equal(rd_execute(p, sizeof(p), &c), 0);
	assert_false(c.ex.new_params_bound);
	assert_int_equal(c.par[0].len, 4);
	assert_int_equal(c.par[1].len, 2);
	assert_int_equal(c.par[1].off, sizeof(p) - 2);
	/* long data for param 1: not in the packet (nor its NULL bit) */
	c.long_data = long_bit;
	assert_int_equal(rd_execute(p_long, sizeof(p_long), &c), 0);
	assert_true(c.par[1].long_data);
	assert_int_equal(rd_execute(p, sizeof(p), &c), RG_MY_E_TRAILING);
	c.long_data = NULL;
	/* no previous types; bad new_params_bound; query-attribute flag */
	c.prev = NULL;
	assert_int_equal(rd_execute(p, sizeof(p), &c), RG_MY_E_PROTOCOL);
	c.prev = prev;
	memcpy(bad, p, sizeof(p));
	bad[11] = 2;
	assert_int_equal(rd_execute(bad, sizeof(bad), &c), RG_MY_E_VALUE);
	memcpy(bad, p, sizeof(p));
	bad[5] = RG_MY_PARAMETER_COUNT_AVAILABLE;
	assert_int_equal(rd_execute(bad, sizeof(bad), &c), RG_MY_E_PROTOCOL);
	/* no parameters: the packet ends after the iteration count */
	c.nparams = 0;
	assert_int_equal(rd_execute(p, 10, &c), 0);
	assert_int_equal(rd_execute(p, 11, &c), RG_MY_E_TRAILING);
	c.nparams = 9;
	assert_int_equal(rd_execute(p, sizeof(p), &c), RG_MY_E_TOO_MANY);
	assert_int_equal(rd_execute(BYTES(0x16, 1), 2, &c), RG_MY_E_WRONG_TYPE);
}

static void test_long_data_fetch_close_reset(void **state)
{
	struct rg_my_long_data ld;
	struct rg_my_fetch f;
	uint32_t id;
	(void)state;

	assert_int_equal(rg_my_read_long_data(BYTES(0x18, 3, 0, 0, 0, 1, 0, 'a', 'b'), 9, &ld), 0);
	assert_int_equal(ld.stmt_id, 3);
	assert_int_equal(ld.param_id, 1);
	assert_int_equal(ld.data.len, 2);
	assert_int_equal(ld.data.off, 7);
	assert_int_equal(rg_my_read_long_data(BYTES(0x18, 3, 0, 0, 0, 1), 6, &ld),
			 RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_read_fetch(BYTES(0x1c, 3, 0, 0, 0, 100, 0, 0, 0), 9, &f), 0);
	assert_int_equal(f.stmt_id, 3);
	assert_int_equal(f.num_rows, 100);
	assert_int_equal(rg_my_read_fetch(BYTES(0x1c, 3, 0, 0, 0, 100, 0, 0), 8, &f),
			 RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_read_stmt_id(BYTES(0x19, 4, 0, 0, 0), 5, RG_MY_COM_STMT_CLOSE, &id),
			 0);
	assert_int_equal(id, 4);
	assert_int_equal(rg_my_read_stmt_id(BYTES(0x1a, 4, 0, 0, 0), 5, RG_MY_COM_STMT_RESET, &id),
			 0);
	assert_int_equal(rg_my_read_stmt_id(BYTES(0x1a, 4, 0, 0, 0), 5, RG_MY_COM_STMT_CLOSE, &id),
			 RG_MY_E_WRONG_TYPE);
	assert_int_equal(
	    rg_my_read_stmt_id(BYTES(0x19, 4, 0, 0, 0, 0), 6, RG_MY_COM_STMT_CLOSE, &id),
	    RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_stmt_id(BYTES(0x03, 4, 0, 0, 0), 5, RG_MY_COM_QUERY, &id),
			 RG_MY_E_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_column_roundtrip_and_prefixes),
	    cmocka_unit_test(test_column_mariadb_extended_metadata_and_field_list_default),
	    cmocka_unit_test(test_column_count),
	    cmocka_unit_test(test_text_row_fields_nulls_and_spans),
	    cmocka_unit_test(test_binary_value_size_of_every_type),
	    cmocka_unit_test(test_binary_row_bitmap_offset_two),
	    cmocka_unit_test(test_prepare_ok),
	    cmocka_unit_test(test_execute_params_of_several_types),
	    cmocka_unit_test(test_execute_rebind_long_data_and_refusals),
	    cmocka_unit_test(test_long_data_fetch_close_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
