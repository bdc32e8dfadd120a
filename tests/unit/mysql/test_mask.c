/*
 * Unit tests for engine/proto/mysql/mask.c's row rebuild (my_mask_rebuild): text and binary
 * rows with fields unchanged, masked to a longer text (the length prefix grows from one byte
 * to three), masked to NULL, and a mask on a non-string column (becomes NULL: 0xfb in text
 * rows, the NULL bitmap's bit in binary rows). Every output is one packet with the given
 * sequence id whose payload the module's own readers parse back; an oversize result fails.
 */
#include "kit.h"
#include "my-int.h"

static const uint8_t TYPES[4] = {RG_MY_TYPE_LONG, RG_MY_TYPE_VAR_STRING, RG_MY_TYPE_DATE,
				 RG_MY_TYPE_BLOB};

static void check_header(const struct rg_acc *out, uint8_t seq)
{
	size_t n = out->p[0] | (size_t)out->p[1] << 8 | (size_t)out->p[2] << 16;

	assert_int_equal(n + 4, out->len);
	assert_int_equal(out->p[3], seq);
}

static void test_text_row_rebuilt(void **state)
{
	/* id 7, email, a date, NULL */
	const struct rg_my_value v[4] = {
	    {"7", 1}, {"ada@example.com", 15}, {"1990-01-31", 10}, {NULL, 0}};
	uint8_t buf[128], big[300];
	struct rg_my_field f[4], g[4];
	struct rg_mask_out_field o[4] = {{0}};
	struct rg_acc out = {0};
	ssize_t n = rg_my_write_text_row(buf, sizeof(buf), 3, v, 4);
	(void)state;

	assert_true(n > 4);
	assert_int_equal(rg_my_read_text_row(buf + 4, (size_t)n - 4, 4, f, 4), 0);
	memset(big, 'h', sizeof(big));
	o[1] = (struct rg_mask_out_field){.changed = true, .data = big, .len = sizeof(big)};
	o[2] = (struct rg_mask_out_field){.changed = true, .is_null = true};
	assert_int_equal(my_mask_rebuild(false, TYPES, 4, buf + 4, (size_t)n - 4, f, o, 9, &out),
			 0);
	check_header(&out, 9);
	assert_int_equal(rg_my_read_text_row(out.p + 4, out.len - 4, 4, g, 4), 0);
	assert_int_equal(g[0].len, 1);
	assert_memory_equal(out.p + 4 + g[0].off, "7", 1);
	assert_int_equal(g[1].len, sizeof(big));
	assert_int_equal(out.p[4 + g[1].off - 3], 0xfc); /* 2-byte length: 0xfc + 2 bytes */
	assert_memory_equal(out.p + 4 + g[1].off, big, sizeof(big));
	assert_true(g[2].is_null && g[3].is_null);

	/* a mask on a non-string column (an INT): NULL, never text a client cannot parse */
	memset(o, 0, sizeof(o));
	o[0] = (struct rg_mask_out_field){.changed = true, .data = (const uint8_t *)"*", .len = 1};
	out.len = 0;
	assert_int_equal(my_mask_rebuild(false, TYPES, 4, buf + 4, (size_t)n - 4, f, o, 2, &out),
			 0);
	assert_int_equal(rg_my_read_text_row(out.p + 4, out.len - 4, 4, g, 4), 0);
	assert_true(g[0].is_null && !g[1].is_null && g[3].is_null);
	assert_memory_equal(out.p + 4 + g[1].off, "ada@example.com", 15);
	rg_acc_free(&out);
}

static void test_binary_row_rebuilt(void **state)
{
	/* 0x00, bitmap (4 + 9) / 8 = 1 byte (col 3 NULL: bit 5), INT 7, "ada@x.io", DATE */
	const uint8_t row[] = {0x00, 0x20, 7,	0,   0,	  0, 8,	   'a',	 'd', 'a',
			       '@',  'x',  '.', 'i', 'o', 4, 0xc6, 0x07, 1,   31};
	struct rg_my_field f[4], g[4];
	struct rg_mask_out_field o[4] = {{0}};
	struct rg_acc out = {0};
	(void)state;

	assert_int_equal(rg_my_read_binary_row(row, sizeof(row), 4, TYPES, f, 4), 0);
	o[1] = (struct rg_mask_out_field){
	    .changed = true, .data = (const uint8_t *)"h:0123", .len = 6};
	o[2] = (struct rg_mask_out_field){.changed = true, .is_null = true};
	assert_int_equal(my_mask_rebuild(true, TYPES, 4, row, sizeof(row), f, o, 5, &out), 0);
	check_header(&out, 5);
	assert_int_equal(out.p[5], 0x20 | 0x10); /* the DATE's bit (2 + 2) set */
	assert_int_equal(rg_my_read_binary_row(out.p + 4, out.len - 4, 4, TYPES, g, 4), 0);
	assert_false(g[0].is_null);
	assert_memory_equal(out.p + 4 + g[0].off, BYTES(7, 0, 0, 0), 4);
	assert_int_equal(g[1].len, 6);
	assert_memory_equal(out.p + 4 + g[1].off, "h:0123", 6);
	assert_true(g[2].is_null && g[3].is_null);

	/* nothing changed: the same bytes */
	memset(o, 0, sizeof(o));
	out.len = 0;
	assert_int_equal(my_mask_rebuild(true, TYPES, 4, row, sizeof(row), f, o, 1, &out), 0);
	assert_int_equal(out.len, sizeof(row) + 4);
	assert_memory_equal(out.p + 4, row, sizeof(row));

	/* a masked non-string value (the INT): its bit set, its bytes gone */
	o[0] = (struct rg_mask_out_field){.changed = true, .data = (const uint8_t *)"x", .len = 1};
	out.len = 0;
	assert_int_equal(my_mask_rebuild(true, TYPES, 4, row, sizeof(row), f, o, 1, &out), 0);
	assert_int_equal(out.len, sizeof(row) + 4 - 4);
	assert_int_equal(rg_my_read_binary_row(out.p + 4, out.len - 4, 4, TYPES, g, 4), 0);
	assert_true(g[0].is_null && !g[1].is_null);

	/* a truncated row is refused, never rebuilt */
	out.len = 0;
	assert_true(my_mask_rebuild(true, TYPES, 4, row, sizeof(row) - 1, f, o, 1, &out) < 0);
	rg_acc_free(&out);
}

static void test_oversize_row_fails(void **state)
{
	const struct rg_my_value v[2] = {{"1", 1}, {"x", 1}}; /* INT, VAR_STRING */
	uint8_t buf[32];
	struct rg_my_field f[2];
	struct rg_mask_out_field o[2] = {{0}};
	struct rg_acc out = {0};
	ssize_t n = rg_my_write_text_row(buf, sizeof(buf), 1, v, 2);
	uint8_t *huge = malloc(RG_MY_MAX_PACKET);
	(void)state;

	assert_non_null(huge);
	memset(huge, 'z', RG_MY_MAX_PACKET);
	assert_int_equal(rg_my_read_text_row(buf + 4, (size_t)n - 4, 2, f, 2), 0);
	o[1] =
	    (struct rg_mask_out_field){.changed = true, .data = huge, .len = RG_MY_MAX_PACKET - 4};
	assert_int_equal(
	    my_mask_rebuild(false, TYPES + 0, 2, buf + 4, (size_t)n - 4, f, o, 1, &out),
	    RG_MY_E_TOO_LONG);
	free(huge);
	rg_acc_free(&out);
}

static void test_string_types(void **state)
{
	(void)state;
	assert_true(my_mask_string_type(RG_MY_TYPE_VAR_STRING));
	assert_true(my_mask_string_type(RG_MY_TYPE_STRING));
	assert_true(my_mask_string_type(RG_MY_TYPE_BLOB));
	assert_true(my_mask_string_type(RG_MY_TYPE_ENUM));
	assert_true(my_mask_string_type(RG_MY_TYPE_JSON));
	assert_false(my_mask_string_type(RG_MY_TYPE_LONGLONG));
	assert_false(my_mask_string_type(RG_MY_TYPE_DATE));
	assert_false(my_mask_string_type(RG_MY_TYPE_NEWDECIMAL));
	assert_false(my_mask_string_type(RG_MY_TYPE_GEOMETRY));
	/* detectors: text strings only; binary strings keep their bytes; JSON is text */
	assert_true(my_mask_detect_column(RG_MY_TYPE_VAR_STRING, 45));
	assert_true(my_mask_detect_column(RG_MY_TYPE_BLOB, 33));
	assert_false(my_mask_detect_column(RG_MY_TYPE_BLOB, 63));
	assert_false(my_mask_detect_column(RG_MY_TYPE_STRING, 63));
	assert_true(my_mask_detect_column(RG_MY_TYPE_JSON, 63));
	assert_false(my_mask_detect_column(RG_MY_TYPE_LONGLONG, 63));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_row_rebuilt),
	    cmocka_unit_test(test_binary_row_rebuilt),
	    cmocka_unit_test(test_oversize_row_fails),
	    cmocka_unit_test(test_string_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
