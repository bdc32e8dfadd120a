/*
 * record.c: the session's recording (docs/audit.md, "Session recordings"): the seams where
 * a PostgreSQL session hands engine/evidence's recorder (evidence.h, rg_rec_*) what the
 * agent received after login (masked values only: these are the bytes sent), a marker where
 * each statement went to the target (its number in the audit trail, whose stmt record holds
 * the text) and where a ReadyForQuery goes out (the chunk is flushed then, so what the agent
 * was told is out of the process before it can act on it). The format, the journals and the
 * truncation at audit.record_max_bytes are the recorder's, shared with the MySQL module.
 */
#include "sess-int.h"

#include "evidence.h"

void pg_rec_start(struct pg_sess *ps)
{
	if (!ps->gw->rec || ps->internal || ps->rec)
		return;
	ps->rec = rg_rec_start(ps->gw->rec, (unsigned)(ps->cnt - ps->gw->cnt), ps->id,
			       RG_EV_POSTGRES, NULL, 0, &ps->cnt->audit_lost);
}

void pg_rec_out(struct pg_sess *ps, const uint8_t *p, size_t n)
{
	rg_rec_out(ps->rec, p, n);
}

void pg_rec_stmt(struct pg_sess *ps, uint32_t n)
{
	rg_rec_mark(ps->rec, 'S', &n, 4);
}

void pg_rec_ready(struct pg_sess *ps)
{
	rg_rec_ready(ps->rec);
}

void pg_rec_end(struct pg_sess *ps, const char *reason)
{
	rg_rec_end(ps->rec, reason);
	ps->rec = NULL;
}

int rg_pg_gw_set_recording(struct rg_pg_gw *gw, struct rg_rec *rec)
{
	gw->rec = rec;
	return 0;
}
