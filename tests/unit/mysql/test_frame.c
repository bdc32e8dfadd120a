/*
 * test_frame.c: the session's whole-message framing over received chunks (frame.c,
 * my_rx_next): in place when a message lies in one chunk, copied when split, sequence ids
 * and the size limit enforced, split (>= 16 MiB) messages gathered, big accumulators
 * released once drained.
 */
#include "kit.h"
#include "my-int.h"

/* Build a message of payload[0..n) starting at seq into a fresh heap buffer. */
static uint8_t *build(const uint8_t *payload, size_t n, uint8_t seq, size_t *len)
{
	ssize_t need = rg_my_write_packets(NULL, 0, seq, payload, n, NULL);
	uint8_t *b;

	assert_true(need > 0);
	b = malloc((size_t)need);
	assert_non_null(b);
	assert_int_equal(rg_my_write_packets(b, (size_t)need, seq, payload, n, NULL), need);
	*len = (size_t)need;
	return b;
}

static void test_whole_message_in_one_chunk_is_used_in_place(void **state)
{
	struct my_rx rx = {0};
	struct rg_my_msg m;
	uint8_t *w;
	size_t n, left;
	const uint8_t *p;
	bool in_acc = true;

	(void)state;
	w = build(BYTES(0x03, 'S', 'E', 'L'), 4, 0, &n);
	p = w;
	left = n;
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 1);
	assert_false(in_acc);
	assert_ptr_equal(m.start, w);
	assert_int_equal(m.len, 4);
	assert_int_equal(left, 0);
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 0);
	assert_int_equal(rx.acc.len, 0);
	free(w);
	my_rx_free(&rx);
}

static void test_message_split_byte_by_byte_is_gathered(void **state)
{
	struct my_rx rx = {0};
	struct rg_my_msg m;
	const uint8_t payload[] = {0x03, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1'};
	uint8_t *w;
	size_t n, got = 0;
	bool in_acc = false;

	(void)state;
	w = build(payload, sizeof(payload), 0, &n);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = w + i;
		size_t left = 1;
		int r = my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc);

		assert_true(r >= 0);
		assert_int_equal(left, 0);
		if (r) {
			got++;
			assert_int_equal(i, n - 1);
		}
	}
	assert_int_equal(got, 1);
	assert_true(in_acc);
	assert_int_equal(m.len, sizeof(payload));
	assert_memory_equal(m.payload, payload, sizeof(payload));
	free(w);
	my_rx_free(&rx);
}

static void test_two_messages_and_a_partial_third_keep_their_order(void **state)
{
	struct my_rx rx = {0};
	struct rg_my_msg m;
	uint8_t chunk[64], *a, *b;
	size_t na, nb, n, left;
	const uint8_t *p;
	bool in_acc;

	(void)state;
	a = build(BYTES(0x0e), 1, 0, &na);
	b = build(BYTES(0x03, 'x'), 2, 0, &nb);
	memcpy(chunk, a, na);
	memcpy(chunk + na, b, nb);
	memcpy(chunk + na + nb, a, 3); /* a third message's first 3 header bytes */
	n = na + nb + 3;
	p = chunk;
	left = n;
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 1);
	assert_int_equal(m.payload[0], 0x0e);
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 1);
	assert_int_equal(m.payload[0], 0x03);
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 0);
	assert_int_equal(rx.acc.len, 3);
	p = a + 3;
	left = na - 3;
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 1);
	assert_true(in_acc);
	assert_int_equal(m.payload[0], 0x0e);
	free(a);
	free(b);
	my_rx_free(&rx);
}

/* A split message is completed from the next chunk with the bytes it needs and no more:
 * the messages after it in that chunk are handed out in place (forwarded by reference,
 * framed as runs of rows), the accumulator empty again. */
static void test_after_a_split_message_the_chunk_is_used_in_place(void **state)
{
	struct my_rx rx = {0};
	struct rg_my_msg m;
	uint8_t chunk[256], *a, *b, *c;
	size_t na, nb, nc, left;
	const uint8_t *p;
	bool in_acc;

	(void)state;
	a = build((const uint8_t *)"0123456789abcdef", 16, 0, &na);
	b = build(BYTES(0x03, 'x'), 2, 1, &nb);
	c = build(BYTES(0x03, 'y'), 2, 2, &nc);
	/* the first chunk ends inside a's header, then inside its payload */
	for (size_t cut = 1; cut < na; cut++) {
		memcpy(chunk, a + cut, na - cut);
		memcpy(chunk + na - cut, b, nb);
		memcpy(chunk + na - cut + nb, c, nc);
		p = a;
		left = cut;
		assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 0);
		p = chunk;
		left = na - cut + nb + nc;
		assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 1);
		assert_true(in_acc);
		assert_int_equal(m.len, 16);
		assert_memory_equal(m.payload, "0123456789abcdef", 16);
		assert_ptr_equal(p, chunk + na - cut); /* only a's bytes were taken */
		assert_int_equal(my_rx_next(&rx, &p, &left, 1, 1024, &m, &in_acc), 1);
		assert_false(in_acc);
		assert_ptr_equal(m.start, chunk + na - cut);
		assert_int_equal(rx.acc.len, 0);
		assert_int_equal(my_rx_next(&rx, &p, &left, 2, 1024, &m, &in_acc), 1);
		assert_false(in_acc);
		assert_int_equal(m.payload[1], 'y');
		assert_int_equal(left, 0);
	}
	free(a);
	free(b);
	free(c);
	my_rx_free(&rx);
}

static void test_wrong_sequence_id_and_oversize_fail(void **state)
{
	struct my_rx rx = {0};
	struct rg_my_msg m;
	uint8_t *w;
	size_t n, left;
	const uint8_t *p;
	bool in_acc;

	(void)state;
	w = build(BYTES(0x0e), 1, 5, &n);
	p = w;
	left = n;
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), RG_MY_E_SEQ);
	free(w);
	w = build((const uint8_t *)"0123456789", 10, 0, &n);
	p = w;
	left = n;
	assert_int_equal(my_rx_next(&rx, &p, &left, 0, 4, &m, &in_acc), RG_MY_E_TOO_LONG);
	free(w);
	my_rx_free(&rx);
}

static void test_split_packets_over_16mib_in_chunks(void **state)
{
	struct my_rx rx = {0};
	struct rg_my_msg m;
	size_t len = RG_MY_MAX_PACKET + 1000, n, off = 0, msgs = 0;
	uint8_t *payload = malloc(len), *w, *heap;
	const uint8_t *g;
	bool in_acc = false;

	(void)state;
	assert_non_null(payload);
	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(i * 7);
	payload[0] = 0x03;
	w = build(payload, len, 0, &n);
	while (off < n) {
		size_t step = n - off < 65536 ? n - off : 65536, left = step;
		const uint8_t *p = w + off;

		while (left || msgs == 0) {
			int r = my_rx_next(&rx, &p, &left, 0, 64ull << 20, &m, &in_acc);

			assert_true(r >= 0);
			if (!r)
				break;
			msgs++;
		}
		off += step;
	}
	assert_int_equal(msgs, 1);
	assert_true(in_acc);
	assert_int_equal(m.npackets, 2);
	assert_int_equal(m.len, len);
	g = my_msg_payload(&m, &heap);
	assert_non_null(g);
	assert_non_null(heap);
	assert_memory_equal(g, payload, len);
	free(heap);
	/* drained: the next call releases the big accumulator */
	{
		const uint8_t *p = NULL;
		size_t left = 0;

		assert_int_equal(my_rx_next(&rx, &p, &left, 0, 1024, &m, &in_acc), 0);
		assert_int_equal(rx.acc.cap, 0);
	}
	free(w);
	free(payload);
	my_rx_free(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_message_in_one_chunk_is_used_in_place),
	    cmocka_unit_test(test_message_split_byte_by_byte_is_gathered),
	    cmocka_unit_test(test_two_messages_and_a_partial_third_keep_their_order),
	    cmocka_unit_test(test_after_a_split_message_the_chunk_is_used_in_place),
	    cmocka_unit_test(test_wrong_sequence_id_and_oversize_fail),
	    cmocka_unit_test(test_split_packets_over_16mib_in_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
