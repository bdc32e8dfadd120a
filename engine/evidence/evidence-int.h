/*
 * evidence-int.h: what audit.c (the trail's writer) and journal.c (the producers' rings)
 * share; not part of the module's API.
 */
#ifndef RG_EVIDENCE_INT_H
#define RG_EVIDENCE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence.h"

struct jr_hdr;

struct rg_audit_jr {
	struct rg_audit *a;
	struct jr_hdr *h; /* in the mapping */
	uint8_t *map, *ring;
	size_t maplen;
	uint64_t size;
	unsigned id;
	/* producer only */
	uint64_t head, pend;
	/* any thread */
	_Atomic uint64_t lost, waits;
	char path[512];
};

struct rg_jr_rec {
	uint16_t type;
	int64_t time_us;
	const uint8_t *body;
	uint32_t len;
};

int rg_jr_map(const char *path, unsigned id, size_t size, bool create, struct rg_audit_jr **out,
	      char *err, size_t errlen);
void rg_jr_unmap(struct rg_audit_jr *j);
bool rg_jr_empty(const struct rg_audit_jr *j);
uint64_t rg_jr_head(const struct rg_audit_jr *j);
uint64_t rg_jr_tail(const struct rg_audit_jr *j);
/* The next record in [*pos, end): 1 (r set, *pos past it), 0 at end, -EBADMSG when torn. */
int rg_jr_read(struct rg_audit_jr *j, uint64_t *pos, uint64_t end, struct rg_jr_rec *r);
/* Before writing the trail records of [tail, end) from first_seq on / after they are written
 * (tail moves to end) / after a failed write was cut back out of the trail. */
void rg_jr_pending(struct rg_audit_jr *j, uint64_t first_seq, uint64_t end);
void rg_jr_consumed(struct rg_audit_jr *j, uint64_t end);
void rg_jr_abandon_pending(struct rg_audit_jr *j);
/* At start, with the trail's next sequence number: skip what an interrupted batch wrote. */
int rg_jr_recover(struct rg_audit_jr *j, uint64_t next_seq, uint64_t *skipped);

/* audit.c: wake the writer (a producer found its journal full) */
void rg_audit_kick(struct rg_audit *a);

#endif
