/*
 * telemetry.c: the families of GET /metrics (docs/metrics.md) and the text exposition writer.
 * Names follow Prometheus conventions: ringgate_ prefix, base units (seconds, bytes),
 * _total for counters. Per-worker figures are summed here, on the scrape; the protocol
 * modules' counters are the gateway's (engine/gateway), labelled by protocol.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "core.h"
#include "evidence.h"
#include "gateway.h"
#include "mask.h"
#include "rg_bpf.h"
#include "telemetry.h"

/* ---- the writer ------------------------------------------------------------------------- */

static void put(struct rg_prom *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 16384;
		char *np;

		while (cap - b->len < n + 1)
			cap *= 2;
		if (!(np = realloc(b->p, cap))) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct rg_prom *b, const char *s)
{
	put(b, s, strlen(s));
}

static void printf_(struct rg_prom *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct rg_prom *b, const char *fmt, ...)
{
	char t[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t, sizeof(t), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, t, (size_t)n < sizeof(t) ? (size_t)n : sizeof(t) - 1);
}

void rg_prom_family(struct rg_prom *b, const char *name, const char *type, const char *help)
{
	printf_(b, "# HELP %s ", name);
	puts_(b, help);
	printf_(b, "\n# TYPE %s %s\n", name, type);
}

/* label values: backslash, double quote and newline escaped (the format's rules) */
static void label_value(struct rg_prom *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			puts_(b, "\\\\");
		else if (*v == '"')
			puts_(b, "\\\"");
		else if (*v == '\n')
			puts_(b, "\\n");
		else
			put(b, v, 1);
	}
}

static void labels(struct rg_prom *b, va_list ap, const char *extra_k, const char *extra_v)
{
	const char *k;
	bool any = false;

	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		puts_(b, any ? "," : "{");
		any = true;
		puts_(b, k);
		puts_(b, "=\"");
		label_value(b, v ? v : "");
		puts_(b, "\"");
	}
	if (extra_k) {
		puts_(b, any ? "," : "{");
		any = true;
		puts_(b, extra_k);
		puts_(b, "=\"");
		puts_(b, extra_v);
		puts_(b, "\"");
	}
	if (any)
		puts_(b, "}");
}

static void value(struct rg_prom *b, double v)
{
	if (isinf(v))
		puts_(b, v > 0 ? " +Inf\n" : " -Inf\n");
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		printf_(b, " %lld\n", (long long)v);
	else
		printf_(b, " %.9g\n", v);
}

void rg_prom_sample(struct rg_prom *b, const char *name, double v, ...)
{
	va_list ap;

	puts_(b, name);
	va_start(ap, v);
	labels(b, ap, NULL, NULL);
	va_end(ap);
	value(b, v);
}

void rg_prom_log2_hist(struct rg_prom *b, const char *name, const uint64_t *counts, unsigned n,
		       uint64_t count, double sum, double unit, ...)
{
	char bname[160], le[48];
	uint64_t cum = 0;
	va_list ap;

	snprintf(bname, sizeof(bname), "%s_bucket", name);
	for (unsigned i = 0; i < n; i++) {
		cum += counts[i];
		/* bucket i holds [2^i, 2^(i+1)): its upper bound, in base units */
		snprintf(le, sizeof(le), "%.9g", ldexp(1.0, (int)i + 1) * unit);
		puts_(b, bname);
		va_start(ap, unit);
		labels(b, ap, "le", le);
		va_end(ap);
		value(b, (double)cum);
	}
	puts_(b, bname);
	va_start(ap, unit);
	labels(b, ap, "le", "+Inf");
	va_end(ap);
	value(b, (double)(count > cum ? count : cum));
	snprintf(bname, sizeof(bname), "%s_sum", name);
	puts_(b, bname);
	va_start(ap, unit);
	labels(b, ap, NULL, NULL);
	va_end(ap);
	value(b, sum * unit);
	snprintf(bname, sizeof(bname), "%s_count", name);
	puts_(b, bname);
	va_start(ap, unit);
	labels(b, ap, NULL, NULL);
	va_end(ap);
	value(b, (double)(count > cum ? count : cum));
}

/* ---- the families ---------------------------------------------------------------------------- */

static void counter(struct rg_prom *b, const char *name, const char *help, uint64_t v)
{
	rg_prom_family(b, name, "counter", help);
	rg_prom_sample(b, name, (double)v, NULL);
}

static void gauge(struct rg_prom *b, const char *name, const char *help, double v)
{
	rg_prom_family(b, name, "gauge", help);
	rg_prom_sample(b, name, v, NULL);
}

/* One family of the targets' session counts: all of them, or those open now (active). */
static void target_family(struct rg_prom *b, struct rg_gw *svc, const char *name,
			  const char *type, const char *help, bool active)
{
	rg_prom_family(b, name, type, help);
	for (size_t i = 0; svc && i < rg_gw_targets(svc); i++) {
		uint64_t tot, act;
		const char *tn = rg_gw_target_sessions(svc, i, &tot, &act);

		rg_prom_sample(b, name, (double)(active ? act : tot), "protocol",
			       rg_config_proto_name(rg_gw_target_at(svc, i)->cfg->protocol),
			       "target", tn, NULL);
	}
}

/* The families of the protocol modules' counters (rg_gw_counters_add, engine/gateway): one
 * sample per protocol, labelled protocol="..." in the order the modules added them; the
 * families without that label sum every protocol. */
static void proto_families(struct rg_prom *b, struct rg_gw *svc)
{
	size_t n = rg_gw_counters_protocols(svc), k;
	struct rg_gw_counters *cs = aligned_alloc(64, sizeof(*cs) * (n ? n : 1)), c;
	const char **Ps = calloc(n ? n : 1, sizeof(*Ps));

	if (!cs || !Ps) {
		b->err = -ENOMEM;
		goto out;
	}
	memset(&c, 0, sizeof(c)); /* c: every protocol's sum */
	for (k = 0; k < n; k++) {
		Ps[k] = rg_gw_counters_sum(svc, k, -1, &cs[k]);
#define RG_GW_CNT_SUM(f) c.f += cs[k].f;
		RG_GW_COUNTER_FIELDS(RG_GW_CNT_SUM)
#undef RG_GW_CNT_SUM
	}
	rg_prom_family(b, "ringgate_sessions_total", "counter",
		       "Client connections accepted, by protocol.");
	for (k = 0; k < n; k++)
		rg_prom_sample(b, "ringgate_sessions_total", (double)cs[k].sessions, "protocol",
			       Ps[k], NULL);
	rg_prom_family(b, "ringgate_sessions_active", "gauge", "Sessions open now, by protocol.");
	for (k = 0; k < n; k++)
		rg_prom_sample(b, "ringgate_sessions_active", (double)cs[k].sessions_active,
			       "protocol", Ps[k], NULL);
	rg_prom_family(b, "ringgate_auth_ok_total", "counter",
		       "Agents whose token verified, by protocol.");
	for (k = 0; k < n; k++)
		rg_prom_sample(b, "ringgate_auth_ok_total", (double)cs[k].auth_ok, "protocol",
			       Ps[k], NULL);
	rg_prom_family(b, "ringgate_auth_failures_total", "counter",
		       "Agents refused at login, by protocol and reason.");
	for (k = 0; k < n; k++)
		for (unsigned i = 0; i < RG_GW_AUTH_REASONS; i++)
			if (cs[k].auth_fail_by[i] || i == 0)
				rg_prom_sample(b, "ringgate_auth_failures_total",
					       (double)cs[k].auth_fail_by[i], "protocol", Ps[k],
					       "reason", rg_auth_err_name((enum rg_auth_err)i),
					       NULL);
	rg_prom_family(b, "ringgate_upstream_failures_total", "counter",
		       "Target connect, TLS or login failures, by protocol.");
	for (k = 0; k < n; k++)
		rg_prom_sample(b, "ringgate_upstream_failures_total", (double)cs[k].upstream_fail,
			       "protocol", Ps[k], NULL);
	rg_prom_family(b, "ringgate_statements_total", "counter",
		       "Statements judged, by protocol and verdict (pass: no bundle in force).");
	for (k = 0; k < n; k++) {
		rg_prom_sample(b, "ringgate_statements_total", (double)cs[k].stmt_passed,
			       "protocol", Ps[k], "verdict", "pass", NULL);
		rg_prom_sample(b, "ringgate_statements_total", (double)cs[k].stmt_allowed,
			       "protocol", Ps[k], "verdict", "allow", NULL);
		rg_prom_sample(b, "ringgate_statements_total", (double)cs[k].stmt_logged,
			       "protocol", Ps[k], "verdict", "log", NULL);
		rg_prom_sample(b, "ringgate_statements_total", (double)cs[k].stmt_denied,
			       "protocol", Ps[k], "verdict", "deny", NULL);
		rg_prom_sample(b, "ringgate_statements_total", (double)cs[k].stmt_held, "protocol",
			       Ps[k], "verdict", "hold", NULL);
	}
	rg_prom_family(b, "ringgate_rule_statements_total", "counter",
		       "Statements a rule decided, by rule id and its verdict (rule=\"other\": "
		       "rules past the first 64 a worker met).");
	for (k = 0; k < n; k++) {
		for (unsigned r = 0; r < RG_GW_RULE_SLOTS; r++) {
			static const char *const vn[] = {"pass", "allow", "log", "deny", "hold"};
			const struct rg_gw_rule_cnt *rc = &cs[k].rules[r];

			if (rc->used)
				rg_prom_sample(b, "ringgate_rule_statements_total", (double)rc->n,
					       "protocol", Ps[k], "rule", rc->id, "verdict",
					       rc->verdict < 5 ? vn[rc->verdict] : "?", NULL);
		}
		if (cs[k].rule_other)
			rg_prom_sample(b, "ringgate_rule_statements_total",
				       (double)cs[k].rule_other, "protocol", Ps[k], "rule", "other",
				       "verdict", "?", NULL);
	}
	rg_prom_family(b, "ringgate_masked_rows_total", "counter",
		       "Result rows rewritten, by the detector that matched (column: a column "
		       "rule); a row two detectors hit counts for both.");
	for (k = 0; k < n; k++) {
		for (unsigned d = 0; d < RG_DET__COUNT; d++)
			rg_prom_sample(b, "ringgate_masked_rows_total", (double)cs[k].mask_det[d],
				       "protocol", Ps[k], "detector",
				       rg_detector_get((enum rg_detector)d)->name, NULL);
		rg_prom_sample(b, "ringgate_masked_rows_total", (double)cs[k].mask_det[31],
			       "protocol", Ps[k], "detector", "column", NULL);
	}
	rg_prom_family(b, "ringgate_approvals_total", "counter",
		       "Statements held for approval, by how their request ended.");
	for (k = 0; k < n; k++) {
		static const char *const on[] = {"pending", "approved", "denied",
						 "expired", "withdrawn", "abandoned"};

		for (unsigned o = 1; o < 6; o++)
			rg_prom_sample(b, "ringgate_approvals_total", (double)cs[k].appr_by[o],
				       "protocol", Ps[k], "outcome", on[o], NULL);
	}
	target_family(b, svc, "ringgate_target_sessions_total", "counter",
		      "Sessions logged in to each target.", false);
	target_family(b, svc, "ringgate_target_sessions_active", "gauge",
		      "Sessions open now to each target (logged in).", true);
	rg_prom_family(b, "ringgate_messages_total", "counter",
		       "Statement-carrying messages relayed, by protocol and kind.");
	for (k = 0; k < n; k++) {
		rg_prom_sample(b, "ringgate_messages_total", (double)cs[k].queries, "protocol",
			       Ps[k], "kind", "query", NULL);
		rg_prom_sample(b, "ringgate_messages_total", (double)cs[k].parses, "protocol",
			       Ps[k], "kind", "parse", NULL);
	}
	counter(b, "ringgate_lexing_denied_total",
		"Statements refused by the lexing guard (docs/security.md).", c.lexing_denied);
	counter(b, "ringgate_rows_masked_total",
		"Result rows, notices and COPY rows rewritten by mask rules.", c.rows_masked);
	rg_prom_family(b, "ringgate_bytes_total", "counter",
		       "Bytes relayed: in from agents to targets, out from targets to agents.");
	for (k = 0; k < n; k++) {
		rg_prom_sample(b, "ringgate_bytes_total", (double)cs[k].fe_bytes, "protocol", Ps[k],
			       "direction", "in", NULL);
		rg_prom_sample(b, "ringgate_bytes_total", (double)cs[k].be_bytes, "protocol", Ps[k],
			       "direction", "out", NULL);
	}
	counter(b, "ringgate_limit_terminations_total",
		"Sessions ended by a scope limit (rules' limits:).", c.limit_ended);
	counter(b, "ringgate_token_expirations_total",
		"Sessions ended because their token expired.", c.token_expired);
	counter(b, "ringgate_protocol_violations_total",
		"Sessions closed for a protocol violation by either peer.", c.protocol_violations);
	counter(b, "ringgate_cancel_requests_total", "CancelRequests received.", c.cancel_requests);
	counter(b, "ringgate_audit_statements_refused_total",
		"Statements refused because the audit trail could not be written.",
		c.audit_refused);
	counter(b, "ringgate_audit_records_lost_total",
		"Audit records not kept (the trail failed and a journal was full).", c.audit_lost);
	rg_prom_family(b, "ringgate_statement_duration_seconds", "histogram",
		       "An agent's round trip as ringgate sees it: from its message to the "
		       "ReadyForQuery that answers it (ringgate, the target and back).");
	for (k = 0; k < n; k++)
		rg_prom_log2_hist(b, "ringgate_statement_duration_seconds", cs[k].stmt_lat.bucket,
				  RG_GW_LAT_BUCKETS, cs[k].stmt_lat.count,
				  (double)cs[k].stmt_lat.sum_us, 1e-6, "protocol", Ps[k], NULL);
	rg_prom_family(b, "ringgate_upstream_login_duration_seconds", "histogram",
		       "Logging in to a target: the first connect to its first ReadyForQuery.");
	for (k = 0; k < n; k++)
		rg_prom_log2_hist(b, "ringgate_upstream_login_duration_seconds",
				  cs[k].login_lat.bucket, RG_GW_LAT_BUCKETS, cs[k].login_lat.count,
				  (double)cs[k].login_lat.sum_us, 1e-6, "protocol", Ps[k], NULL);
	gauge(b, "ringgate_policy_generation",
	      "The policy bundle generation in force (0: none, pass-through).",
	      (double)rg_gw_policy_gen(svc));
out:
	free(cs);
	free(Ps);
}

static void core_families(struct rg_prom *b, struct rg_core *core)
{
	unsigned n = rg_core_workers(core);
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} f[] = {
	    {"ringgate_io_uring_enters_total", "counter",
	     "io_uring_enter calls of the worker's loop.", offsetof(struct rg_stats, submits)},
	    {"ringgate_io_uring_completions_total", "counter", "Completions reaped.",
	     offsetof(struct rg_stats, cqes)},
	    {"ringgate_io_uring_recv_ops_total", "counter", "Receive completions carrying data.",
	     offsetof(struct rg_stats, recv_ops)},
	    {"ringgate_io_uring_send_ops_total", "counter", "Send SQEs issued.",
	     offsetof(struct rg_stats, send_ops)},
	    {"ringgate_io_uring_buffer_exhaustions_total", "counter",
	     "Receives stopped for lack of provided buffers (-ENOBUFS).",
	     offsetof(struct rg_stats, buf_starved)},
	    {"ringgate_io_uring_backpressure_pauses_total", "counter",
	     "Receives paused because the peer's send queue was over its limit.",
	     offsetof(struct rg_stats, bp_pauses)},
	    {"ringgate_accept_backoffs_total", "counter",
	     "Accepts paused 100 ms for lack of file descriptors or memory.",
	     offsetof(struct rg_stats, accept_backoff)},
	    {"ringgate_io_uring_buffers_in_use", "gauge", "Provided buffers held now.",
	     offsetof(struct rg_stats, bufs_in_use)},
	};
	struct rg_stats *s = calloc(n ? n : 1, sizeof(*s));
	char w[16];

	if (!s) {
		b->err = -ENOMEM;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		rg_core_stats(core, (int)i, &s[i]);
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		rg_prom_family(b, f[k].name, f[k].type, f[k].help);
		for (unsigned i = 0; i < n; i++) {
			snprintf(w, sizeof(w), "%u", i);
			rg_prom_sample(b, f[k].name,
				       (double)*(const uint64_t *)((const char *)&s[i] + f[k].off),
				       "worker", w, NULL);
		}
	}
	rg_prom_family(b, "ringgate_io_uring_completions_per_enter", "gauge",
		       "Completions reaped per io_uring_enter since start (batching).");
	for (unsigned i = 0; i < n; i++) {
		snprintf(w, sizeof(w), "%u", i);
		rg_prom_sample(b, "ringgate_io_uring_completions_per_enter",
			       s[i].submits ? (double)s[i].cqes / (double)s[i].submits : 0.0,
			       "worker", w, NULL);
	}
	free(s);
}

static void audit_families(struct rg_prom *b, const char *which, struct rg_audit *a)
{
	struct rg_audit_lag lag;
	char name[96];

	rg_audit_lag(a, &lag);
	snprintf(name, sizeof(name), "ringgate_%s_records_written_total", which);
	counter(b, name, "Records the trail's writer wrote.", rg_audit_written(a));
	snprintf(name, sizeof(name), "ringgate_%s_write_failing", which);
	gauge(b, name, "1 while the trail cannot be written (disk full, I/O error), else 0.",
	      rg_audit_error(a) ? 1 : 0);
	snprintf(name, sizeof(name), "ringgate_%s_backlog_bytes", which);
	gauge(b, name, "Bytes waiting for the trail's writer (its lag).",
	      (double)(lag.journal_bytes + lag.queue_bytes));
	snprintf(name, sizeof(name), "ringgate_%s_journal_waits_total", which);
	counter(b, name, "Times a worker waited for room in its journal (back-pressure).",
		lag.waits);
}

static void bpf_families(struct rg_prom *b, struct rg_bpf *bpf)
{
	struct rg_bpf_stats s;
	uint64_t buckets[RG_BPF_BUCKETS];
	static const char *const cls[] = {"recv", "send", "other"};

	gauge(b, "ringgate_bpf_enabled", "1 when the eBPF telemetry is loaded, else 0.",
	      bpf ? 1 : 0);
	if (!bpf || rg_bpf_read(bpf, &s))
		return;
	rg_prom_family(b, "ringgate_io_uring_request_duration_seconds", "histogram",
		       "io_uring requests of ringgate's rings, submission to (first) completion, by "
		       "operation class (eBPF).");
	for (unsigned i = 0; i < 3; i++) {
		for (unsigned k = 0; k < RG_BPF_BUCKETS; k++)
			buckets[k] = s.hist[i].bucket[k];
		rg_prom_log2_hist(b, "ringgate_io_uring_request_duration_seconds", buckets,
				  RG_BPF_BUCKETS, s.hist[i].count, (double)s.hist[i].sum, 1e-9, "op",
				  cls[i], NULL);
	}
	rg_prom_family(b, "ringgate_tcp_unacked_bytes", "histogram",
		       "Bytes ringgate sent and the peer had not acknowledged, at each ACK, on "
		       "ringgate's own sockets (eBPF).");
	for (unsigned k = 0; k < RG_BPF_BUCKETS; k++)
		buckets[k] = s.hist[RG_BPF_HIST_UNACKED].bucket[k];
	rg_prom_log2_hist(b, "ringgate_tcp_unacked_bytes", buckets, RG_BPF_BUCKETS, s.hist[RG_BPF_HIST_UNACKED].count,
			  (double)s.hist[RG_BPF_HIST_UNACKED].sum, 1.0, NULL);
	counter(b, "ringgate_tcp_retransmits_total",
		"TCP segments retransmitted on ringgate's own sockets (eBPF).",
		s.cnt[RG_BPF_CNT_RETRANSMIT]);
	rg_prom_family(b, "ringgate_tcp_state_changes_total", "counter",
		       "TCP state changes of ringgate's own sockets, by new state (eBPF).");
	for (unsigned st = 1; st < RG_BPF_TCP_STATES; st++)
		rg_prom_sample(b, "ringgate_tcp_state_changes_total",
			       (double)s.cnt[RG_BPF_CNT_STATE + st], "state",
			       rg_bpf_tcp_state_name(st), NULL);
}

int rg_telemetry_render(const struct rg_telemetry_src *src, char **out, size_t *len)
{
	struct rg_prom b = {0};

	rg_prom_family(&b, "ringgate_build_info", "gauge",
		       "Always 1; the version of the running binary as a label.");
	rg_prom_sample(&b, "ringgate_build_info", 1, "version", src->version, NULL);
	if (src->svc)
		proto_families(&b, src->svc);
	rg_prom_family(&b, "ringgate_policy_reloads_total", "counter",
		       "Policy bundle reloads (SIGHUP, POST /reload), by outcome.");
	rg_prom_sample(&b, "ringgate_policy_reloads_total", (double)src->reloads_ok, "outcome",
		       "ok", NULL);
	rg_prom_sample(&b, "ringgate_policy_reloads_total", (double)src->reloads_failed,
		       "outcome", "refused", NULL);
	if (src->core)
		core_families(&b, src->core);
	if (src->audit)
		audit_families(&b, "audit", src->audit);
	if (src->recordings)
		audit_families(&b, "recordings", src->recordings);
	bpf_families(&b, src->bpf);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
