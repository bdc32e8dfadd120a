/*
 * frame.c: whole-message framing over the chunks a session side receives (my_rx_next), for
 * the session (session.c). A message that lies in one chunk is handed out in place (the
 * relay forwards it by reference); one split across chunks is copied into the side's
 * accumulator, and only it: the next chunk gives the accumulator the bytes that complete it
 * and no more, so what follows in that chunk is used in place again (a large result's rows
 * keep going out by reference, and runs of them keep being framed in the receive buffer:
 * relay.c my_be_rows). No I/O; allocation only when a message is split. Unit-tested on its
 * own (tests/unit/mysql/test_frame.c).
 */
#include "my-int.h"

#define RX_KEEP (64u << 10) /* an empty accumulator keeps this much capacity */

int my_rx_next(struct my_rx *rx, const uint8_t **pp, size_t *pn, int expect_seq, uint64_t max,
	       struct rg_my_msg *m, bool *in_acc)
{
	ssize_t r;

	if (rx->pend) {
		rg_acc_consume(&rx->acc, rx->pend);
		rx->pend = 0;
		if (!rx->acc.len && rx->acc.cap > RX_KEEP)
			rg_acc_free(&rx->acc);
	}
	if (rx->acc.len) {
		/* the accumulator holds the start of one message: add what it still needs
		 * (a lower bound while a header is missing, so a few rounds) */
		for (;;) {
			size_t take;

			r = rg_my_frame_msg(rx->acc.p, rx->acc.len, expect_seq, max, m);
			if (r != RG_MY_NEED_MORE || !*pn)
				break;
			take = m->need < *pn ? (size_t)m->need : *pn;
			if (rg_acc_append(&rx->acc, *pp, take))
				return -ENOMEM;
			*pp += take;
			*pn -= take;
		}
		if (r <= 0)
			return (int)r;
		rx->pend = (size_t)r;
		*in_acc = true;
		return 1;
	}
	if (!*pn)
		return 0;
	r = rg_my_frame_msg(*pp, *pn, expect_seq, max, m);
	if (r < 0)
		return (int)r;
	if (r > 0) {
		*in_acc = false;
		*pp += r;
		*pn -= (size_t)r;
		return 1;
	}
	if (rg_acc_append(&rx->acc, *pp, *pn))
		return -ENOMEM;
	*pp += *pn;
	*pn = 0;
	return 0;
}

void my_rx_free(struct my_rx *rx)
{
	rg_acc_free(&rx->acc);
	rx->pend = 0;
}

const uint8_t *my_msg_payload(const struct rg_my_msg *m, uint8_t **heap)
{
	*heap = NULL;
	if (m->npackets <= 1)
		return m->payload;
	*heap = malloc(m->len ? (size_t)m->len : 1);
	if (!*heap)
		return NULL;
	(void)rg_my_msg_gather(m, *heap, (size_t)m->len);
	return *heap;
}
