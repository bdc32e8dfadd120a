/*
 * report: machine-readable views of a bundle for people and CI: `rulec explain` (one JSON
 * line per statement: verdict, deciding rule, every matching rule, the parser's facts, the
 * session's effective limits) and `rulec inspect` (what a bundle holds and how it was
 * built).
 */
#include <jansson.h>
#include <string.h>

#include "rulec.h"

static json_t *names_json(const struct rg_sql_name *v, size_t n, bool with_access)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char buf[600];
		snprintf(buf, sizeof(buf), "%s%s%s", v[i].schema ? v[i].schema : "",
			 v[i].schema ? "." : "", v[i].name);
		if (with_access) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(buf));
			json_object_set_new(o, "read", json_boolean(v[i].access & RG_ACCESS_READ));
			json_object_set_new(o, "write", json_boolean(v[i].access & RG_ACCESS_WRITE));
			json_array_append_new(a, o);
		} else {
			json_array_append_new(a, json_string(buf));
		}
	}
	return a;
}

static json_t *ops_json(uint64_t ops)
{
	json_t *a = json_array();
	for (int op = 0; op < RG_OP__COUNT; op++)
		if (ops & RG_OP_BIT(op))
			json_array_append_new(a, json_string(rg_sql_op_name((enum rg_sql_op)op)));
	return a;
}

/* {"max_rows": {"value": 1000, "text": "1000", "limit": "id"}, ...}: the set ones only */
static json_t *limits_json(const struct rg_policy *p, const struct rg_request *req)
{
	struct rg_limits l;
	rg_policy_limits(p, req, &l);
	json_t *o = json_object();
	for (int k = 0; k < RG_LIMIT__COUNT; k++) {
		if (!l.v[k].id)
			continue;
		char text[32];
		rg_limit_format_value((enum rg_limit_kind)k, l.v[k].value, text, sizeof(text));
		json_t *e = json_object();
		json_object_set_new(e, "value", json_integer((json_int_t)l.v[k].value));
		json_object_set_new(e, "text", json_string(text));
		json_object_set_new(e, "limit", json_string(l.v[k].id));
		json_object_set_new(o, rg_limit_name((enum rg_limit_kind)k), e);
	}
	return o;
}

static void print_json_line(json_t *o, FILE *out)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fprintf(out, "%s\n", s);
	free(s);
	json_decref(o);
}

int rulec_explain(const struct rg_policy *p, const struct rg_request *req, const char *sql,
		  FILE *out)
{
	if (!sql) {
		json_t *o = json_object();
		json_object_set_new(o, "limits", limits_json(p, req));
		print_json_line(o, out);
		return 0;
	}
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	if (!c)
		return -1;
	struct rg_decision d;
	if (rg_policy_verdict(c, req, sql, strlen(sql), &d) != 0) {
		rg_policy_ctx_free(c);
		return -1;
	}
	json_t *o = json_object();
	json_object_set_new(o, "verdict", json_string(rg_verdict_name(d.verdict)));
	json_object_set_new(o, "shadow_verdict", json_string(rg_verdict_name(d.shadow_verdict)));
	json_t *rules = json_array();
	for (size_t i = 0; i < d.nrules; i++)
		json_array_append_new(rules, json_string(d.rules[i]->id));
	json_object_set_new(o, "rules", rules);
	if (d.rule) {
		json_t *r = json_object();
		json_object_set_new(r, "id", json_string(d.rule->id));
		json_object_set_new(r, "file", json_string(d.rule->file));
		json_object_set_new(r, "line", json_integer(d.rule->line));
		if (d.verdict == RG_VERDICT_DENY) {
			json_object_set_new(r, "sqlstate", json_string(d.rule->sqlstate));
			if (d.rule->message)
				json_object_set_new(r, "message", json_string(d.rule->message));
		}
		if (d.verdict == RG_VERDICT_HOLD) {
			json_object_set_new(r, "approval_group",
					    json_string(d.rule->approval_group));
			json_object_set_new(r, "approval_ttl_s",
					    json_integer(d.rule->approval_ttl_s));
			json_object_set_new(r, "approval_scope",
					    json_string(d.rule->approval_scope ==
								RG_APPROVAL_FINGERPRINT
							? "fingerprint"
							: "once"));
		}
		json_object_set_new(o, "decided_by", r);
	}
	json_object_set_new(o, "prefilter_skipped_walk", json_boolean(!d.parsed));
	if (!d.facts) {
		/* show the parser's view anyway: the same decision with every rule a candidate */
		rg_policy_ctx_set_prefilter(c, false);
		if (rg_policy_verdict(c, req, sql, strlen(sql), &d) != 0) {
			json_decref(o);
			rg_policy_ctx_free(c);
			return -1;
		}
	}
	if (d.facts) {
		const struct rg_sql_facts *f = d.facts;
		json_t *fj = json_object();
		json_object_set_new(fj, "parse_ok", json_boolean(f->status == RG_SQL_OK));
		json_object_set_new(fj, "statements", json_integer(f->nstmts));
		json_object_set_new(fj, "operations", ops_json(f->ops));
		json_object_set_new(fj, "without_where", ops_json(f->ops_without_where));
		json_object_set_new(fj, "tables", names_json(f->tables, f->ntables, true));
		json_object_set_new(fj, "functions", names_json(f->functions, f->nfunctions, false));
		json_object_set_new(o, "facts", fj);
	}
	json_object_set_new(o, "limits", limits_json(p, req));
	print_json_line(o, out);
	rg_policy_ctx_free(c);
	return 0;
}

int rulec_inspect(const struct rg_policy *p, FILE *out)
{
	struct rg_policy_info in;
	rg_policy_get_info(p, &in);
	json_t *o = json_object();
	char sum[17];
	snprintf(sum, sizeof(sum), "%016llx", (unsigned long long)in.checksum);
	json_object_set_new(o, "format_version", json_integer(in.format_version));
	json_object_set_new(o, "checksum_xxh3", json_string(sum));
	json_object_set_new(o, "signed", json_boolean(in.signed_bundle));
	json_object_set_new(o, "hyperscan", json_string(in.hs_version));
	json_object_set_new(o, "packs", json_string(in.packs));
	json_object_set_new(o, "rules", json_integer(in.nrules));
	json_object_set_new(o, "masks", json_integer(in.nmasks));
	json_object_set_new(o, "limits", json_integer(in.nlimits));
	json_object_set_new(o, "tests", json_integer(in.ntests));
	json_object_set_new(o, "prefilter_complete", json_boolean(in.prefilter_complete));
	json_t *rules = json_array();
	for (uint32_t i = 0; i <= in.nrules; i++) {
		const struct rg_rule_info *r = rg_policy_rule(p, i);
		json_t *rj = json_object();
		json_object_set_new(rj, "id", json_string(r->id));
		json_object_set_new(rj, "action", json_string(rg_verdict_name(r->action)));
		json_object_set_new(rj, "enforce", json_boolean(r->enforce));
		char where[512];
		snprintf(where, sizeof(where), "%s:%u", r->file, r->line);
		json_object_set_new(rj, "source", json_string(where));
		json_array_append_new(rules, rj);
	}
	json_object_set_new(o, "rule_list", rules);
	json_t *limits = json_array();
	struct rg_limit_entry le;
	for (uint32_t i = 0; rg_policy_limit_entry(p, i, &le); i++) {
		json_t *lj = json_object();
		json_object_set_new(lj, "id", json_string(le.id));
		char where[512];
		snprintf(where, sizeof(where), "%s:%u", le.file, le.line);
		json_object_set_new(lj, "source", json_string(where));
		for (int k = 0; k < RG_LIMIT__COUNT; k++) {
			if (!(le.set >> k & 1))
				continue;
			char text[32];
			rg_limit_format_value((enum rg_limit_kind)k, le.value[k], text,
					      sizeof(text));
			json_object_set_new(lj, rg_limit_name((enum rg_limit_kind)k),
					    json_string(text));
		}
		json_array_append_new(limits, lj);
	}
	json_object_set_new(o, "limit_list", limits);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fprintf(out, "%s\n", s);
	free(s);
	json_decref(o);
	return 0;
}
