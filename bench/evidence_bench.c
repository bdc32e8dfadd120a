/*
 * evidence_bench: what the audit trail costs a data-path worker per statement, without the
 * network: the session hooks exactly as the relay calls them (engine/proto/pg/audit.c) for
 * pgbench -S in simple mode (a Query with a new literal each time; RowDescription, DataRow,
 * CommandComplete, ReadyForQuery back) and in prepared mode (Bind, Execute; BindComplete,
 * DataRow, CommandComplete, ReadyForQuery), writing into a real journal drained by the real
 * writer into a real trail in a temp dir. Reports the worker thread's CPU time per statement
 * (CLOCK_THREAD_CPUTIME_ID), alternating rounds with the hooks off (the same loop without
 * ps->ev) so the difference is the hooks' cost; and the writer thread's CPU per statement.
 * The loop is paced at RATE statements a second (one worker under pgbench -S does ~20k), so
 * that the writer keeps up and no wait for journal room is counted.
 * Usage: evidence_bench [seconds per round, default 1] [rounds, default 3]
 */
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evidence.h"
#include "sess-int.h"

#define RATE 100000.0 /* statements per second, the pace of one busy worker */

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU of this process's thread named name, ns (0 if none): the trail's writer is rg-audit */
static double named_thread_cpu_ns(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	double ns = 0;

	while (d && (e = readdir(d))) {
		char p[300], comm[32] = "", buf[1024];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", e->d_name);
		if ((f = fopen(p, "r"))) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, name))
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/stat", e->d_name);
		if ((f = fopen(p, "r"))) {
			if (fgets(buf, sizeof(buf), f)) {
				char *q = strrchr(buf, ')');
				unsigned long long ut = 0, st = 0;

				if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
						&ut, &st) == 2)
					ns = (double)(ut + st) * 1e9 / (double)sysconf(_SC_CLK_TCK);
			}
			fclose(f);
		}
	}
	if (d)
		closedir(d);
	return ns;
}

static size_t put_msg(uint8_t *b, uint8_t type, const void *body, uint32_t n)
{
	uint32_t l = n + 4;

	b[0] = type;
	b[1] = (uint8_t)(l >> 24), b[2] = (uint8_t)(l >> 16), b[3] = (uint8_t)(l >> 8);
	b[4] = (uint8_t)l;
	memcpy(b + 5, body, n);
	return 5 + n;
}

static void msg(struct rg_pg_msg *m, uint8_t *b, uint8_t type, const void *body, uint32_t n)
{
	put_msg(b, type, body, n);
	rg_pg_msg_view(b, 5 + n, m);
}

/* One statement through the hooks as the relay calls them. */
static void one(struct pg_sess *ps, bool prepared, uint64_t i, struct rg_pg_msg *be, int nbe,
		struct rg_pg_msg *bind)
{
	struct pg_judgement j = {.gen = 1};
	struct rg_pg_deny d = {0};

	if (ps->ev) {
		if (!prepared) {
			char sql[80];
			int n = snprintf(sql, sizeof(sql),
					 "SELECT abalance FROM pgbench_accounts WHERE aid = %llu;",
					 (unsigned long long)(i % 100000 + 1));

			pg_ev_stmt(ps, 'Q', NULL, 0, sql, (size_t)n, PG_VERDICT_ALLOW, &j, &d, NULL,
				   ps->syncs_sent + 1);
		} else {
			struct rg_pg_bind bd;

			rg_pg_read_bind(bind, &bd);
			pg_ev_bind(ps, bind, &bd);
			pg_ev_execute(ps, ps->syncs_sent + 1);
		}
		pg_ev_fe_bytes(ps, 60);
	}
	ps->syncs_sent++;
	for (int k = 0; k < nbe; k++) {
		if (ps->ev)
			pg_ev_be(ps, &be[k]);
		if (be[k].type == RG_PG_BE_READY)
			ps->rfq_recv++;
	}
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	char dir[] = "/tmp/rg-evbench-XXXXXX", path[256], err[600];
	struct rg_config cfg;
	struct rg_config_audit ac = {.enabled = true};
	struct rg_gw *svc;
	struct rg_pg_gw *gw;
	struct rg_audit *a;
	struct rg_events *events = NULL;
	struct rg_audit_opts o = {0};
	struct rg_auth_identity id = {0};
	struct pg_sess *ps = calloc(1, sizeof(*ps));
	struct pg_ev *ev;
	uint8_t bufs[8][256], bindb[256];
	struct rg_pg_msg simple_be[4], prep_be[4], bind;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f;

	if (!mkdtemp(dir) || !k)
		return 1;
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	f = fopen(path, "w");
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(k);
	memset(&cfg, 0, sizeof(cfg));
	if (rg_gw_new(&cfg, 1, &svc) || rg_pg_gw_new(&cfg, svc, &gw))
		return 1;
	o.key_file = path;
	{
		static char trail[256];

		snprintf(trail, sizeof(trail), "%s/trail", dir);
		o.dir = trail;
	}
	ac.journal_dir = dir;
	if (rg_audit_open(&o, &a, err, sizeof(err)) ||
	    rg_events_new(a, 1, ac.journal_dir, ac.keep_literals, &events, err, sizeof(err)) ||
	    rg_pg_gw_set_audit(gw, a, events, &ac)) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* a session as login leaves it */
	snprintf(id.iss, sizeof(id.iss), "https://issuer.example.com/");
	snprintf(id.sub, sizeof(id.sub), "ci-agent-7");
	id.n_groups = 2;
	memcpy(id.group_buf, "ci\0etl", 7);
	id.group_off[0] = 0;
	id.group_off[1] = 3;
	ps->gw = gw;
	ps->cnt = &gw->cnt[0];
	ps->id = 1;
	snprintf(ps->peer, sizeof(ps->peer), "10.1.2.3:54321");
	ps->ident = rg_auth_identity_dup(&id);
	pg_ev_auth_ok(ps);
	ev = ps->ev;
	{ /* a Parse "P_0" made the statement the Binds name */
		struct pg_judgement j = {.gen = 1};
		struct rg_pg_deny d = {0};
		const char *q = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";

		pg_ev_stmt(ps, 'P', "P_0", 3, q, strlen(q), PG_VERDICT_ALLOW, &j, &d, NULL, 0);
	}
	{
		static const uint8_t rowdesc[] = "\0\1abalance\0\0\0\0\0\0\0\0\0\0\x17\0\4\xff\xff\xff\xff\0\0";
		static const uint8_t row[] = "\0\1\0\0\0\0041234";
		static const uint8_t cc[] = "SELECT 1";
		static const uint8_t bindbody[] = "\0P_0\0\0\0\0\1\0\0\0\00512345\0\0";

		msg(&simple_be[0], bufs[0], RG_PG_BE_ROW_DESC, rowdesc, sizeof(rowdesc) - 1);
		msg(&simple_be[1], bufs[1], RG_PG_BE_DATA_ROW, row, sizeof(row) - 1);
		msg(&simple_be[2], bufs[2], RG_PG_BE_COMMAND_COMPLETE, cc, sizeof(cc));
		msg(&simple_be[3], bufs[3], RG_PG_BE_READY, "I", 1);
		msg(&prep_be[0], bufs[4], '2', "", 0);
		prep_be[1] = simple_be[1];
		prep_be[2] = simple_be[2];
		prep_be[3] = simple_be[3];
		msg(&bind, bindb, RG_PG_FE_BIND, bindbody, sizeof(bindbody) - 1);
	}
	printf("evidence_bench: %.1f s rounds, hooks off/on alternating, worker thread CPU per "
	       "statement\n", secs);
	for (int prepared = 0; prepared < 2; prepared++) {
		for (int r = 0; r < rounds; r++) {
			for (int on = 0; on < 2; on++) {
				double t0 = mono_s(), cpu = 0, wc0 = named_thread_cpu_ns("rg-audit");
				uint64_t n = 0, w0 = rg_audit_written(a);

				ps->ev = on ? ev : NULL;
				while (mono_s() - t0 < secs) {
					double c0 = thread_cpu_ns();

					for (int k2 = 0; k2 < 256; k2++, n++)
						one(ps, prepared, n, prepared ? prep_be : simple_be, 4,
						    &bind);
					cpu += thread_cpu_ns() - c0; /* the statements, not the pacing */
					/* at most RATE statements a second: the writer keeps up, so
					 * no wait for journal room is counted (a real worker is also
					 * far below this with the network in between) */
					while ((double)n / RATE > mono_s() - t0)
						usleep(200);
				}
				rg_audit_flush(a);
				printf("  %-8s round %d hooks %-3s: %7.1f ns/statement (%llu statements, "
				       "%llu records written; the writer: %.0f ns/statement)\n",
				       prepared ? "prepared" : "simple", r, on ? "on" : "off",
				       cpu / (double)n, (unsigned long long)n,
				       (unsigned long long)(rg_audit_written(a) - w0),
				       (named_thread_cpu_ns("rg-audit") - wc0) / (double)n);
			}
		}
	}
	ps->ev = ev;
	pg_ev_free(ps);
	rg_auth_principal_free(ps->ident);
	rg_audit_close(a);
	rg_pg_gw_audit_free(gw);
	rg_events_free(events);
	rg_pg_gw_free(gw);
	rg_gw_free(svc);
	free(ps);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	return system(path) ? 1 : 0;
}
