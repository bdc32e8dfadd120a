/*
 * policy.c: the policy bundle on a MySQL session (docs/mysql.md, "Policy").
 *
 * Every COM_QUERY and COM_STMT_PREPARE text is judged by the bundle in force through the
 * shared runtime (engine/gateway: one generation for every protocol, each worker its own
 * context) as protocol "mysql": engine/policy reads it with the MySQL classifier under the
 * session's own lexing state. That state is the target's, read once after login (its
 * version, and ringgate's own SELECT of @@SESSION.sql_mode and character_set_client: the
 * probe, login.c), so ANSI_QUOTES and NO_BACKSLASH_ESCAPES set by the server's
 * configuration are followed; a sql_mode the classifier cannot follow (ORACLE, MSSQL) or a
 * character set whose multibyte characters can hide a quote ends the login instead.
 *
 * The session never changes that state behind the classifier: under a bundle, a statement
 * that would (SET sql_mode, SET NAMES or CHARACTER SET to another set, also inside SET
 * STATEMENT ... FOR or an executed comment) is refused here, whatever the rules say: the
 * lexing guard, as for PostgreSQL's pinned settings. A statement that cannot be judged is
 * denied (fail closed). Without a bundle the session is pass-through, as pg's.
 */
#include <ctype.h>

#include "my-int.h"

void my_policy_session(struct my_sess *ms)
{
	ms->rid.issuer = rg_auth_principal_iss(ms->ident);
	ms->rid.subject = rg_auth_principal_sub(ms->ident);
	ms->rid.groups = rg_auth_principal_groups(ms->ident, &ms->rid.ngroups);
	ms->req.protocol = "mysql";
	ms->req.target = ms->tgt->cfg->name;
	ms->req.identity = &ms->rid;
	ms->req.mysql = &ms->lex;
	ms->lex = (struct rg_my_lexing){.server_version = 101100, .dialect = RG_MY_MARIADB};
}

/* "5.5.5-10.11.19-MariaDB-0+deb12u1" (MariaDB's prefix for old clients), "8.0.36": the
 * version as versioned comments compare it (101119, 80036). */
static bool parse_version(const char *v, struct rg_my_lexing *lx)
{
	unsigned a, b, c;

	lx->dialect = strstr(v, "MariaDB") ? RG_MY_MARIADB : RG_MY_MYSQL;
	if (!strncmp(v, "5.5.5-", 6) && lx->dialect == RG_MY_MARIADB)
		v += 6;
	if (sscanf(v, "%u.%u.%u", &a, &b, &c) != 3 || a > 99 || b > 99 || c > 99)
		return false;
	lx->server_version = a * 10000 + b * 100 + c;
	return true;
}

bool my_policy_lexing(struct my_sess *ms, const char *version, const char *sql_mode,
		      const char *charset, char *why, size_t whylen)
{
	struct rg_my_lexing lx = ms->lex;
	unsigned modes = 0;

	if (!parse_version(version, &lx)) {
		snprintf(why, whylen, "unreadable server version");
		return false;
	}
	if (rg_my_sql_mode_flags(sql_mode, strlen(sql_mode), &modes)) {
		snprintf(why, whylen, "sql_mode %.80s is not one ringgate reads statements under",
			 sql_mode);
		return false;
	}
	if (!rg_my_charset_safe(charset)) {
		snprintf(why, whylen, "character set %.40s can hide quotes in multibyte characters",
			 charset);
		return false;
	}
	lx.modes = modes;
	ms->lex = lx;
	return true;
}

uint64_t my_policy_gen(const struct my_sess *ms)
{
	return rg_gw_policy_gen(ms->m->svc);
}

/* A cheap test first: a statement that changes sql_mode or the character set names one of
 * these words (keywords and variable names cannot be escaped; quoting or an executed
 * comment leaves the word in the text). */
static bool lexing_candidate(const uint8_t *s, size_t n)
{
	static const char *const words[] = {"sql_mode", "names", "character", "charset"};

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tolower(s[i]);

		if (c != 's' && c != 'n' && c != 'c')
			continue;
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			size_t l = strlen(words[w]);

			if (n - i >= l && !strncasecmp((const char *)s + i, words[w], l))
				return true;
		}
	}
	return false;
}

static bool changes_lexing(struct my_sess *ms, const uint8_t *sql, size_t len)
{
	struct rg_myclass **cls = &ms->m->cls[ms->worker];
	struct rg_sql_facts f;

	if (!lexing_candidate(sql, len))
		return false;
	if (!*cls && !(*cls = rg_myclass_new()))
		return true;
	/* true also for text it cannot read, which a rule allowing `unknown` let through */
	if (rg_myclass_run(*cls, &ms->lex, (const char *)sql, len, 0, &f))
		return true;
	return rg_myclass_changes_lexing(&f);
}

/* The lexing guard refuses a statement whatever the rules say. */
static enum my_verdict lexing_denied(struct my_sess *ms, struct my_deny *d, struct my_judgement *jo)
{
	char sub[MY_SUB_LOG_LEN];

	ms->cnt->lexing_denied++;
	ms->cnt->stmt_denied++;
	jo->guard = "lexing_guard";
	d->code = RG_MY_ER_SPECIFIC_ACCESS_DENIED;
	snprintf(d->sqlstate, sizeof(d->sqlstate), "42000");
	snprintf(d->msg, sizeof(d->msg),
		 "ringgate: changing sql_mode or the character set is not allowed through "
		 "the gateway (it reads statements as the server lexes them)");
	rg_log("event=denied proto=mysql sess=%llu sub=%s target=%s rule=lexing_guard",
	       (unsigned long long)ms->id, my_sub(ms, sub, sizeof(sub)), ms->tgt->cfg->name);
	return MY_DENY;
}

/* jo (NULL: not wanted) gets what decided, for the statement's audit record; the
 * statement is counted for /metrics here (verdicts, rules). */
enum my_verdict my_judge_text(struct my_sess *ms, const uint8_t *sql, size_t len, uint64_t *gen,
			      struct my_deny *d, struct my_judgement *jo)
{
	struct rg_gw_deny gd;
	struct rg_gw_judgement j = {0};
	struct my_judgement jl;
	enum rg_gw_verdict v;

	if (!jo)
		jo = &jl;
	v = rg_gw_policy_judge(ms->m->svc, ms->worker, &ms->req, (const char *)sql, len,
			       rg_approvals_enabled(ms->m->approvals), &gd, &j);
	*gen = j.gen;
	*jo = (struct my_judgement){.v = v, .rule = j.rule, .shadow = j.shadow_rule};
	if (j.rule)
		rg_gw_count_rule(ms->cnt, j.rule, v);
	if (v == RG_GW_VERDICT_PASS) {
		ms->cnt->stmt_passed++;
		return MY_ALLOW;
	}
	if (v == RG_GW_VERDICT_HOLD) {
		/* held for a reviewer by the relay (or let through by a grant); d: what a
		 * denial of it will carry. The lexing guard still applies once it is approved. */
		d->code = RG_MY_ER_TABLEACCESS_DENIED;
		snprintf(d->sqlstate, sizeof(d->sqlstate), "42000");
		snprintf(d->msg, sizeof(d->msg), "%s", gd.message);
		jo->approval_group = j.approval_group;
		jo->approval_scope = j.approval_scope;
		jo->approval_ttl_s = j.approval_ttl_s;
		jo->approval_expire_s = j.approval_expire_s;
		if (changes_lexing(ms, sql, len))
			return lexing_denied(ms, d, jo);
		ms->cnt->stmt_held++;
		return MY_HOLD;
	}
	if (v == RG_GW_VERDICT_DENY) {
		char sub[MY_SUB_LOG_LEN];

		ms->cnt->stmt_denied++;
		d->code = RG_MY_ER_TABLEACCESS_DENIED;
		snprintf(d->sqlstate, sizeof(d->sqlstate), "42000");
		snprintf(d->msg, sizeof(d->msg), "%s", gd.message);
		rg_log("event=denied proto=mysql sess=%llu sub=%s target=%s rule=%s sqlstate=%s",
		       (unsigned long long)ms->id, my_sub(ms, sub, sizeof(sub)), ms->tgt->cfg->name,
		       j.rule ? j.rule : "-", gd.sqlstate);
		return MY_DENY;
	}
	if (changes_lexing(ms, sql, len))
		return lexing_denied(ms, d, jo);
	ms->cnt->stmt_allowed += v == RG_GW_VERDICT_ALLOW;
	ms->cnt->stmt_logged += v == RG_GW_VERDICT_LOG;
	if (v == RG_GW_VERDICT_LOG) {
		char sub[MY_SUB_LOG_LEN];

		rg_log("event=statement_logged proto=mysql sess=%llu sub=%s target=%s rule=%s",
		       (unsigned long long)ms->id, my_sub(ms, sub, sizeof(sub)),
		       ms->tgt->cfg->name, j.rule ? j.rule : "-");
	}
	return MY_ALLOW;
}

/* A KILL anywhere in the text (behind a comment, after another statement, in an executed
 * comment): the relay translates only a COM_QUERY that is exactly a plain KILL (kill.c), and
 * every agent of a target shares the target's user, so any other KILL form must not reach
 * the server, bundle or not. Text the classifier cannot read that names KILL counts. */
bool my_policy_hidden_kill(struct my_sess *ms, const uint8_t *sql, size_t len)
{
	struct rg_myclass **cls = &ms->m->cls[ms->worker];
	struct rg_sql_facts f;
	bool word = false;

	for (size_t i = 0; i + 4 <= len && !word; i++)
		word = (sql[i] | 0x20) == 'k' && !strncasecmp((const char *)sql + i, "kill", 4);
	if (!word)
		return false;
	if (!*cls && !(*cls = rg_myclass_new()))
		return true;
	if (rg_myclass_run(*cls, &ms->lex, (const char *)sql, len, 0, &f))
		return true;
	return f.status == RG_SQL_UNPARSEABLE || (f.ops & RG_OP_BIT(RG_OP_KILL));
}

void my_policy_free(struct rg_mysql *m)
{
	if (!m->cls)
		return;
	for (unsigned i = 0; i < m->workers; i++)
		rg_myclass_free(m->cls[i]);
	free(m->cls);
	m->cls = NULL;
}
