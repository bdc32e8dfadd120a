/*
 * `ringgatectl approvals list|show|approve|deny`: the approvals API of a running gateway's
 * admin listener (docs/admin.md), from a shell. The gateway is found through its config
 * file (--config or $RINGGATE_CONFIG: admin.url, which defaults to the admin address) and
 * the caller authenticates with a reviewer's token (--token or $RINGGATE_TOKEN).
 *
 * HTTP is libcurl with proxies off (the token goes to the gateway, never through a proxy
 * the environment names) and http/https only. The token is never printed; errors print the
 * API's {"error"} text and the HTTP status. Exit: 0 ok, 1 failure, 2 usage.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "config.h"
#include "ctl.h"

#define MAX_ANSWER (8u << 20)

struct opts {
	const char *config, *token, *cacert, *reason, *status, *id;
	bool json;
};

static const char common_help[] =
    "  --config FILE   the gateway's config (default $RINGGATE_CONFIG): the admin\n"
    "                  listener is reached at its admin.url\n"
    "  --token T       a reviewer's token (default $RINGGATE_TOKEN; the environment keeps\n"
    "                  it out of the process list)\n"
    "  --cacert FILE   CA certificate(s) for an https admin.url (default $RINGGATE_CACERT,\n"
    "                  else the system's)\n";

void ctl_approvals_list_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl approvals list [--json] [--status S] [common options]\n\n"
		"Lists the approval requests this token may see, newest first. --json prints\n"
		"a JSON array of requests as the API returns them (each with id, status,\n"
		"subject, target, rule, sql, ...).\n\n"
		"  --status S      pending, approved, denied, expired, withdrawn, abandoned or all\n"
		"%s",
		common_help);
}

void ctl_approvals_show_help(FILE *out)
{
	fprintf(out, "usage: ringgatectl approvals show ID [--json] [common options]\n\n%s",
		common_help);
}

void ctl_approvals_decide_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl approvals approve ID --reason TEXT [common options]\n"
		"       ringgatectl approvals deny ID --reason TEXT [common options]\n\n"
		"Decides a pending request as the token's subject: they must be in the request's\n"
		"reviewer group and not its requester. The reason is recorded with the decision.\n\n"
		"  --reason TEXT   why (1 to 1000 bytes, one line)\n%s",
		common_help);
}

/* Options of every approvals command; which ones are allowed is checked by the caller. */
static int parse(int argc, char **argv, struct opts *o, const char *name)
{
	static const struct option lo[] = {
	    {"config", required_argument, NULL, 'c'}, {"token", required_argument, NULL, 't'},
	    {"cacert", required_argument, NULL, 'C'}, {"reason", required_argument, NULL, 'r'},
	    {"status", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 't': o->token = optarg; break;
		case 'C': o->cacert = optarg; break;
		case 'r': o->reason = optarg; break;
		case 's': o->status = optarg; break;
		case 'j': o->json = true; break;
		default: return -1;
		}
	}
	if (optind < argc)
		o->id = argv[optind++];
	if (optind != argc) {
		fprintf(stderr, "approvals %s: unexpected argument \"%s\"\n", name, argv[optind]);
		return -1;
	}
	if (!o->config)
		o->config = getenv("RINGGATE_CONFIG");
	if (!o->token)
		o->token = getenv("RINGGATE_TOKEN");
	if (!o->cacert)
		o->cacert = getenv("RINGGATE_CACERT");
	if (!o->config || !*o->config) {
		fprintf(stderr, "approvals %s: no config: give --config FILE or set "
				"RINGGATE_CONFIG\n",
			name);
		return -1;
	}
	if (!o->token || !*o->token) {
		fprintf(stderr, "approvals %s: no token: give --token or set RINGGATE_TOKEN\n",
			name);
		return -1;
	}
	return 0;
}

struct answer {
	char *buf;
	size_t len;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;
	char *b;

	if (a->len + len > MAX_ANSWER) {
		a->too_big = true;
		return 0;
	}
	b = realloc(a->buf, a->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + a->len, p, len);
	a->len += len;
	b[a->len] = 0;
	a->buf = b;
	return len;
}

/*
 * One API call: base URL from the config, path, optional JSON body (POST). Returns the HTTP
 * status (0 when the request failed; the reason is printed) and *doc the parsed answer.
 */
static long call(const char *name, const struct opts *o, const char *path, const char *body,
		 json_t **doc)
{
	struct rg_config *cfg = NULL;
	struct curl_slist *h = NULL;
	struct answer ans = {0};
	char *url = NULL, *auth = NULL, errbuf[CURL_ERROR_SIZE] = "";
	json_error_t jerr;
	long status = 0;
	CURL *c = NULL;
	CURLcode rc;

	*doc = NULL;
	if (rg_config_load(o->config, &cfg, stderr))
		return 0;
	if (!cfg->admin.enabled) {
		fprintf(stderr, "approvals %s: %s has no admin section\n", name, o->config);
		goto out;
	}
	if (asprintf(&url, "%s%s", cfg->admin.url, path) < 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", o->token) < 0) {
		url = auth = NULL;
		goto out;
	}
	c = curl_easy_init();
	h = curl_slist_append(h, auth);
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (!c || !h)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never through a proxy from the environment */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
	if (o->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	if (body)
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		fprintf(stderr, "approvals %s: %s: %s\n", name, cfg->admin.url,
			ans.too_big ? "answer too large" : errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*doc = ans.buf ? json_loadb(ans.buf, ans.len, 0, &jerr) : NULL;
	if (!*doc) {
		fprintf(stderr, "approvals %s: HTTP %ld without a JSON answer\n", name, status);
		status = 0;
	}
out:
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(ans.buf);
	free(url);
	rg_config_free(cfg);
	return status;
}

/* An error answer: its text and status on stderr; returns 1. */
static int api_error(const char *name, long status, json_t *doc)
{
	const char *e = json_string_value(json_object_get(doc, "error"));

	fprintf(stderr, "approvals %s: %s (HTTP %ld)\n", name, e ? e : "error", status);
	json_decref(doc);
	return 1;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static void fmt_age(int64_t ms, char *buf, size_t n)
{
	int64_t s = ms / 1000;

	if (s < 0)
		snprintf(buf, n, "-");
	else if (s < 120)
		snprintf(buf, n, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, n, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, n, "%lldh", (long long)(s / 3600));
}

/* One line of a statement, at most max bytes, control characters as spaces. */
static void one_line(const char *s, char *out, size_t max)
{
	size_t i = 0;

	for (; *s && i + 4 < max; s++)
		out[i++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	if (*s) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = 0;
}

int ctl_approvals_list(int argc, char **argv)
{
	struct opts o;
	json_t *doc, *arr, *a;
	char path[128], age[16], sql[64];
	long st;
	size_t i;
	int64_t now;

	if (parse(argc, argv, &o, "list") || o.reason || o.id) {
		ctl_approvals_list_help(stderr);
		return 2;
	}
	if (o.status && strspn(o.status, "abcdefghijklmnopqrstuvwxyz") != strlen(o.status)) {
		fprintf(stderr, "approvals list: bad --status \"%s\"\n", o.status);
		return 2;
	}
	snprintf(path, sizeof(path), "/api/approvals?limit=1000%s%s", o.status ? "&status=" : "",
		 o.status ? o.status : "");
	st = call("list", &o, path, NULL, &doc);
	if (!st)
		return 1;
	if (st != 200)
		return api_error("list", st, doc);
	arr = json_object_get(doc, "approvals");
	if (!json_is_array(arr)) {
		json_decref(doc);
		fprintf(stderr, "approvals list: unexpected answer\n");
		return 1;
	}
	if (o.json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
		return 0;
	}
	now = json_integer_value(json_object_get(doc, "now_ms"));
	printf("%-32s  %-9s  %5s  %-16s  %-12s  %-26s  %s\n", "ID", "STATUS", "AGE", "SUBJECT",
	       "TARGET", "RULE", "STATEMENT");
	json_array_foreach(arr, i, a) {
		fmt_age(now - json_integer_value(json_object_get(a, "created_ms")), age,
			sizeof(age));
		one_line(jstr(a, "sql"), sql, sizeof(sql));
		printf("%-32s  %-9s  %5s  %-16s  %-12s  %-26s  %s\n", jstr(a, "id"),
		       jstr(a, "status"), age, jstr(a, "subject"), jstr(a, "target"),
		       jstr(a, "rule"), sql);
	}
	json_decref(doc);
	return 0;
}

static bool id_ok(const char *id)
{
	return id && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

static void print_time(const char *label, json_t *v)
{
	time_t t;
	struct tm tm;
	char buf[64];

	if (!json_is_integer(v)) {
		printf("%-12s -\n", label);
		return;
	}
	t = (time_t)(json_integer_value(v) / 1000);
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("%-12s %s\n", label, buf);
}

static void print_request(json_t *a)
{
	static const char *const keys[] = {"id", "status", "scope", "subject", "issuer",
					   "peer", "target", "rule", "reviewers", "fingerprint",
					   "decided_by", "reason", "url"};
	json_t *g = json_object_get(a, "groups"), *v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		printf("%-12s %s\n", keys[i], jstr(a, keys[i]));
	printf("%-12s", "groups");
	json_array_foreach(g, i, v)
		printf(" %s", json_string_value(v) ? json_string_value(v) : "?");
	putchar('\n');
	print_time("created", json_object_get(a, "created_ms"));
	print_time("expires", json_object_get(a, "expires_ms"));
	print_time("decided", json_object_get(a, "decided_ms"));
	printf("statement\n%s\n", jstr(a, "sql"));
}

int ctl_approvals_show(int argc, char **argv)
{
	struct opts o;
	char path[128];
	json_t *doc;
	long st;

	if (parse(argc, argv, &o, "show") || o.reason || o.status || !id_ok(o.id)) {
		if (o.id && !id_ok(o.id))
			fprintf(stderr, "approvals show: an id is 32 lower-case hex digits\n");
		ctl_approvals_show_help(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "/api/approvals/%s", o.id);
	st = call("show", &o, path, NULL, &doc);
	if (!st)
		return 1;
	if (st != 200)
		return api_error("show", st, doc);
	if (o.json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_request(doc);
	}
	json_decref(doc);
	return 0;
}

static int decide(int argc, char **argv, bool approve)
{
	const char *name = approve ? "approve" : "deny";
	struct opts o;
	char path[160], *body = NULL;
	json_t *doc, *req;
	long st;

	if (parse(argc, argv, &o, name) || o.status || o.json || !id_ok(o.id) || !o.reason ||
	    !*o.reason) {
		if (o.id && !id_ok(o.id))
			fprintf(stderr, "approvals %s: an id is 32 lower-case hex digits\n", name);
		ctl_approvals_decide_help(stderr);
		return 2;
	}
	req = json_pack("{s:s}", "reason", o.reason);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		fprintf(stderr, "approvals %s: the reason must be UTF-8 text\n", name);
		return 2;
	}
	snprintf(path, sizeof(path), "/api/approvals/%s/%s", o.id, name);
	st = call(name, &o, path, body, &doc);
	free(body);
	if (!st)
		return 1;
	if (st != 200)
		return api_error(name, st, doc);
	printf("%s %s (%s by %s)\n", jstr(doc, "id"), jstr(doc, "status"), jstr(doc, "reason"),
	       jstr(doc, "decided_by"));
	json_decref(doc);
	return 0;
}

int ctl_approvals_approve(int argc, char **argv)
{
	return decide(argc, argv, true);
}

int ctl_approvals_deny(int argc, char **argv)
{
	return decide(argc, argv, false);
}
