/*
 * record.c: the session's recording (docs/mysql.md, "Recording and replay"): the seams where
 * a MySQL session hands engine/evidence's recorder (evidence.h, rg_rec_*, the same format
 * and trail as PostgreSQL's) what the agent received after login and where each command went.
 *
 * The bytes are those sent to the agent (masked rows are mask.c's copies: nothing else
 * reaches a recording), taken where they leave: a run forwarded by reference, a copy, an
 * ERR ringgate wrote. MySQL's answers do not say what they answer, so every command that
 * gets one leaves a 'C' marker when it goes to the target (or is refused): its command byte,
 * whether its rows are binary, and its statement number in the audit trail (whose stmt
 * record holds the text, literals replaced as the trail has them). The header entry holds
 * the session's capabilities (DEPRECATE_EOF and SESSION_TRACK change the layout). A chunk is
 * flushed once a batch of target bytes that ended an answer has gone out.
 */
#include "my-int.h"

#include "evidence.h"

void my_rec_start(struct my_sess *ms)
{
	if (!ms->m->rec || ms->rec)
		return;
	ms->rec = rg_rec_start(ms->m->rec, ms->worker, ms->id, RG_EV_MYSQL, &ms->caps,
			       sizeof(ms->caps), &ms->cnt->audit_lost);
}

void my_rec_cmd(struct my_sess *ms, uint8_t cmd, bool binary, uint32_t n)
{
	uint8_t b[6] = {cmd, binary ? MY_REC_BINARY : 0};

	if (!ms->rec)
		return;
	memcpy(b + 2, &n, 4);
	rg_rec_mark(ms->rec, 'C', b, sizeof(b));
}

void my_rec_end(struct my_sess *ms, const char *reason)
{
	rg_rec_end(ms->rec, reason);
	ms->rec = NULL;
}

int rg_mysql_set_recording(struct rg_mysql *m, struct rg_rec *rec)
{
	m->rec = rec;
	return 0;
}
