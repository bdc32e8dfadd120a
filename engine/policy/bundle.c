/*
 * bundle: load and verify a compiled policy bundle.
 *
 * The bundle is hostile input until proven otherwise: magic, version, sizes, the XXH3 of
 * the body, the Ed25519 signature (when a public key is configured the signature is
 * mandatory), every section's bounds and alignment, every string offset and list range,
 * and finally Hyperscan's own check of each serialized database against this CPU. Any
 * failure gives one precise line in err and a negative errno; nothing is half-loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "policy_int.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bundles are little-endian");
_Static_assert(RG_LIMIT__COUNT <= RG_BUNDLE_LIMIT_SLOTS, "limit kinds fit the bundle's slots");

#define RG_BUNDLE_MAX (1u << 30)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int verify_signature(const uint8_t *msg, size_t len, const uint8_t *sig,
			    const char *pubkey_path, char *err, size_t errlen)
{
	FILE *f = fopen(pubkey_path, "r");
	if (!f)
		return fail(err, errlen, -ENOENT, "cannot open public key %s: %s", pubkey_path,
			    strerror(errno));
	EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!key)
		return fail(err, errlen, -EINVAL, "%s: not a PEM public key", pubkey_path);
	int rc = 0;
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		rc = fail(err, errlen, -EINVAL, "%s: not an Ed25519 public key", pubkey_path);
		goto out;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestVerify(md, sig, 64, msg, len) != 1)
		rc = fail(err, errlen, -EPERM, "bundle signature does not verify with %s",
			  pubkey_path);
	EVP_MD_CTX_free(md);
out:
	EVP_PKEY_free(key);
	return rc;
}

struct loader {
	struct rg_policy *p;
	const uint8_t *body;
	size_t body_len;
	char *err;
	size_t errlen;
	const char **strs;
	size_t nstrs, capstrs;
};

static bool str_ok(const struct loader *l, uint32_t off, bool nullable)
{
	if (off == UINT32_MAX)
		return nullable;
	return off < l->p->strtab_len;
}

static bool list_ok(const struct loader *l, struct rg_bundle_list li, uint32_t width)
{
	return (uint64_t)li.start + (uint64_t)li.count * width <= l->p->npool;
}

/* Resolve a list of string offsets into a pointer array (allocated from one arena
 * that is sized up front, so pointers stay valid). */
static int resolve(struct loader *l, struct rg_bundle_list li, bool nullable, struct rg_strs *out)
{
	if (!list_ok(l, li, 1))
		return -1;
	if (l->nstrs + li.count > l->capstrs)
		return -1;
	out->v = l->strs + l->nstrs;
	out->n = li.count;
	for (uint32_t i = 0; i < li.count; i++) {
		uint32_t off = l->p->pool[li.start + i];
		if (!str_ok(l, off, nullable))
			return -1;
		l->strs[l->nstrs++] = rg_pstr(l->p, off);
	}
	return 0;
}

static int resolve_match(struct loader *l, const struct rg_bundle_match *bm,
			 struct rg_rt_match *m)
{
	return resolve(l, bm->protocols, false, &m->protocols) ||
	       resolve(l, bm->targets, false, &m->targets) ||
	       resolve(l, bm->subjects, false, &m->subjects) ||
	       resolve(l, bm->issuers, false, &m->issuers) ||
	       resolve(l, bm->groups_any, false, &m->groups_any) ||
	       resolve(l, bm->groups_none, false, &m->groups_none);
}

static size_t match_count(const struct rg_bundle_match *m)
{
	return (size_t)m->protocols.count + m->targets.count + m->subjects.count +
	       m->issuers.count + m->groups_any.count + m->groups_none.count;
}

/* Limit values of a record: only kinds this engine knows (one it cannot enforce must not be
 * dropped silently), and a value only in the slots of set minus none. */
static bool limit_values_ok(uint32_t set, uint32_t none, const uint64_t *value)
{
	if (set & ~((UINT32_C(1) << RG_LIMIT__COUNT) - 1))
		return false;
	for (uint32_t k = 0; k < RG_BUNDLE_LIMIT_SLOTS; k++)
		if (value[k] && (!(set >> k & 1) || (none >> k & 1)))
			return false;
	return true;
}

static int load_hs(struct loader *l, const struct rg_bundle_section *s, hs_database_t **db)
{
	char *info = NULL;
	if (hs_serialized_database_info((const char *)l->body + s->offset, s->len, &info) !=
	    HS_SUCCESS)
		return fail(l->err, l->errlen, -EBADMSG,
			    "section %u: not a serialized Hyperscan database", s->type);
	free(info);
	hs_error_t e = hs_deserialize_database((const char *)l->body + s->offset, s->len, db);
	if (e == HS_DB_VERSION_ERROR)
		return fail(l->err, l->errlen, -EPROTO,
			    "Hyperscan version mismatch: bundle built with %.64s, engine has %s",
			    l->p->hdr->hs_version, hs_version());
	if (e == HS_DB_PLATFORM_ERROR)
		return fail(l->err, l->errlen, -EPROTO,
			    "bundle's Hyperscan databases were compiled for another CPU platform");
	if (e != HS_SUCCESS)
		return fail(l->err, l->errlen, -EBADMSG, "section %u: Hyperscan database rejected (%d)",
			    s->type, e);
	return 0;
}

void rg_policy_free(struct rg_policy *p)
{
	if (!p)
		return;
	hs_free_database(p->prefilter);
	hs_free_database(p->text);
	hs_free_database(p->maskdb);
	free(p->rules);
	free(p->infos);
	free(p->masks);
	free(p->mask_acts);
	free(p->limits);
	free(p->strs);
	free(p->buf);
	free(p);
}

static void fill_info(struct rg_policy *p, uint32_t i)
{
	const struct rg_bundle_rule *b = p->rules[i].b;
	struct rg_rule_info *in = &p->infos[i];
	in->id = rg_pstr(p, b->id_str);
	in->message = b->message_str ? rg_pstr(p, b->message_str) : NULL;
	memcpy(in->sqlstate, b->sqlstate, 5);
	in->sqlstate[5] = 0;
	in->action = (enum rg_verdict)b->action;
	in->enforce = b->enforce;
	in->approval_group = b->approval_group_str ? rg_pstr(p, b->approval_group_str) : NULL;
	in->approval_ttl_s = b->approval_ttl_s;
	in->approval_expire_s = b->approval_expire_s ? b->approval_expire_s : 300;
	in->approval_scope = (enum rg_approval_scope)b->approval_scope;
	in->file = rg_pstr(p, b->file_str);
	in->line = b->line;
}

static int load_sections(struct loader *l)
{
	struct rg_policy *p = l->p;
	const struct rg_bundle_header *h = p->hdr;
	if ((uint64_t)h->nsections * sizeof(struct rg_bundle_section) > l->body_len ||
	    h->nsections > 64)
		return fail(l->err, l->errlen, -EBADMSG, "section table out of bounds");
	const struct rg_bundle_section *secs = (const struct rg_bundle_section *)l->body;
	const struct rg_bundle_section *by_type[16] = { 0 };
	for (uint32_t i = 0; i < h->nsections; i++) {
		const struct rg_bundle_section *s = &secs[i];
		if (s->offset > l->body_len || s->len > l->body_len - s->offset || s->offset % 8)
			return fail(l->err, l->errlen, -EBADMSG, "section %u out of bounds", i);
		if (s->type == 0 || s->type >= 16 || by_type[s->type])
			return fail(l->err, l->errlen, -EBADMSG, "section %u: bad or repeated type %u",
				    i, s->type);
		by_type[s->type] = s;
	}
	const struct rg_bundle_section *s;
	if (!(s = by_type[RG_SEC_STRTAB]) || s->len == 0 || l->body[s->offset + s->len - 1] != 0)
		return fail(l->err, l->errlen, -EBADMSG, "string table missing or unterminated");
	p->strtab = (const char *)l->body + s->offset;
	p->strtab_len = s->len;
	if (!(s = by_type[RG_SEC_LISTS]) || s->len % 4 || s->count != s->len / 4)
		return fail(l->err, l->errlen, -EBADMSG, "list pool missing or malformed");
	p->pool = (const uint32_t *)(l->body + s->offset);
	p->npool = s->len / 4;
	if (!(s = by_type[RG_SEC_META]) || s->len != sizeof(struct rg_bundle_meta))
		return fail(l->err, l->errlen, -EBADMSG, "meta section missing or malformed");
	memcpy(&p->meta, l->body + s->offset, sizeof(p->meta));
	const struct rg_bundle_meta *m = &p->meta;
	if (m->on_unparseable > RG_VERDICT_DENY || !str_ok(l, m->packs_str, false) ||
	    !list_ok(l, (struct rg_bundle_list){ m->always_rules, m->always_count }, 1))
		return fail(l->err, l->errlen, -EBADMSG, "meta section inconsistent");
	if (m->nmasks && m->detector_catalog != RG_DETECTOR_CATALOG_VERSION)
		return fail(l->err, l->errlen, -EPROTO,
			    "bundle's masking detectors are catalogue v%u, this engine has v%u: "
			    "recompile the rules with this version of rulec",
			    m->detector_catalog, RG_DETECTOR_CATALOG_VERSION);
	p->always = p->pool + m->always_rules;
	for (uint32_t i = 0; i < m->always_count; i++)
		if (p->always[i] >= m->nrules)
			return fail(l->err, l->errlen, -EBADMSG, "meta: rule index out of range");

	if (!(s = by_type[RG_SEC_RULES]) || s->count != m->nrules ||
	    s->len != (uint64_t)m->nrules * sizeof(struct rg_bundle_rule))
		return fail(l->err, l->errlen, -EBADMSG, "rules section malformed");
	const struct rg_bundle_rule *br = (const struct rg_bundle_rule *)(l->body + s->offset);
	if (!(s = by_type[RG_SEC_MASKS]) || s->count != m->nmasks ||
	    s->len != (uint64_t)m->nmasks * sizeof(struct rg_bundle_mask))
		return fail(l->err, l->errlen, -EBADMSG, "masks section malformed");
	const struct rg_bundle_mask *bm = (const struct rg_bundle_mask *)(l->body + s->offset);
	if (!(s = by_type[RG_SEC_TESTS]) || s->count != m->ntests ||
	    s->len != (uint64_t)m->ntests * sizeof(struct rg_bundle_test))
		return fail(l->err, l->errlen, -EBADMSG, "tests section malformed");
	p->tests = (const struct rg_bundle_test *)(l->body + s->offset);
	if (!(s = by_type[RG_SEC_LIMITS]) || s->count != m->nlimits ||
	    s->len != (uint64_t)m->nlimits * sizeof(struct rg_bundle_limit))
		return fail(l->err, l->errlen, -EBADMSG, "limits section malformed");
	const struct rg_bundle_limit *bl = (const struct rg_bundle_limit *)(l->body + s->offset);

	/* Size the pointer arena: every string list of rules and masks. */
	size_t need = 0;
	for (uint32_t i = 0; i < m->nrules; i++)
		need += match_count(&br[i].match) + (size_t)br[i].tables.count +
			br[i].functions.count + br[i].literals.count;
	for (uint32_t i = 0; i < m->nmasks; i++)
		need += match_count(&bm[i].match) + bm[i].columns.count;
	for (uint32_t i = 0; i < m->nlimits; i++)
		need += match_count(&bl[i].match);
	if (need > p->npool * 2 + 16)
		return fail(l->err, l->errlen, -EBADMSG, "lists exceed the pool");
	l->capstrs = need;
	l->strs = p->strs = calloc(need + 1, sizeof(char *));
	p->rules = calloc(m->nrules + 1, sizeof(*p->rules));
	p->infos = calloc(m->nrules + 1, sizeof(*p->infos));
	p->masks = calloc(m->nmasks + 1, sizeof(*p->masks));
	p->mask_acts = calloc(m->nmasks + 1, sizeof(*p->mask_acts));
	p->limits = calloc(m->nlimits + 1, sizeof(*p->limits));
	if (!p->strs || !p->rules || !p->infos || !p->masks || !p->mask_acts || !p->limits)
		return fail(l->err, l->errlen, -ENOMEM, "out of memory");

	for (uint32_t i = 0; i < m->nrules; i++) {
		const struct rg_bundle_rule *b = &br[i];
		struct rg_rt_rule *r = &p->rules[i];
		r->b = b;
		if (!str_ok(l, b->id_str, false) || !str_ok(l, b->message_str, false) ||
		    !str_ok(l, b->file_str, false) || !str_ok(l, b->approval_group_str, false) ||
		    b->action > RG_VERDICT_DENY || b->approval_scope > RG_APPROVAL_FINGERPRINT ||
		    b->without_where < -1 || b->without_where > 1 || b->sqlstate[5] != 0 ||
		    resolve_match(l, &b->match, &r->match) ||
		    resolve(l, b->tables, false, &r->tables) ||
		    resolve(l, b->functions, false, &r->functions) ||
		    resolve(l, b->literals, false, &r->literals) || !list_ok(l, b->fingerprints, 2))
			return fail(l->err, l->errlen, -EBADMSG, "rule %u malformed", i);
		r->fps = p->pool + b->fingerprints.start;
		r->nfps = b->fingerprints.count;
		fill_info(p, i);
	}
	/* the built-in rule for statements the parser rejects */
	struct rg_rule_info *u = &p->infos[m->nrules];
	u->id = "builtin.unparseable";
	u->message = "statement could not be parsed and is denied by policy";
	memcpy(u->sqlstate, "42601", 6);
	u->action = (enum rg_verdict)m->on_unparseable;
	u->enforce = true;
	u->file = "(built-in)";

	for (uint32_t i = 0; i < m->nmasks; i++) {
		const struct rg_bundle_mask *b = &bm[i];
		struct rg_rt_mask *k = &p->masks[i];
		k->b = b;
		if (!str_ok(l, b->id_str, false) || !str_ok(l, b->file_str, false) ||
		    !str_ok(l, b->static_str, false) || b->detector < -1 ||
		    b->detector >= RG_DET__COUNT || b->style >= RG_MASK__COUNT ||
		    resolve_match(l, &b->match, &k->match) ||
		    resolve(l, b->columns, false, &k->columns))
			return fail(l->err, l->errlen, -EBADMSG, "mask %u malformed", i);
		p->mask_acts[i] = (struct rg_mask_action){
			.detector = b->detector,
			.style = (enum rg_mask_style)b->style,
			.keep = b->keep ? b->keep : 4,
			.static_text = b->static_str ? rg_pstr(p, b->static_str) : "",
			.rule_index = i,
		};
	}

	for (uint32_t i = 0; i < m->nlimits; i++) {
		const struct rg_bundle_limit *b = &bl[i];
		struct rg_rt_limit *k = &p->limits[i];
		k->b = b;
		if (!str_ok(l, b->id_str, false) || !str_ok(l, b->file_str, false) ||
		    !limit_values_ok(b->set, 0, b->value) || resolve_match(l, &b->match, &k->match))
			return fail(l->err, l->errlen, -EBADMSG, "limit %u malformed", i);
		k->id = rg_pstr(p, b->id_str);
	}

	for (uint32_t i = 0; i < m->ntests; i++) {
		const struct rg_bundle_test *t = &p->tests[i];
		const struct rg_bundle_list lists[] = { t->groups, t->row, t->columns, t->expect_row };
		if (t->kind > 2 || (t->limits_none & ~t->limits_checked) || t->pad2 ||
		    !limit_values_ok(t->limits_checked, t->limits_none, t->limits))
			return fail(l->err, l->errlen, -EBADMSG, "test %u malformed", i);
		if (!str_ok(l, t->file_str, false) || !str_ok(l, t->owner_str, false) ||
		    !str_ok(l, t->subject_str, false) || !str_ok(l, t->issuer_str, false) ||
		    !str_ok(l, t->target_str, false) || !str_ok(l, t->protocol_str, false) ||
		    !str_ok(l, t->sql_str, false) || !str_ok(l, t->expect_rule_str, false) ||
		    t->expect > RG_VERDICT_DENY || t->expect_shadow > RG_VERDICT_DENY)
			return fail(l->err, l->errlen, -EBADMSG, "test %u malformed", i);
		for (size_t k = 0; k < 4; k++) {
			if (!list_ok(l, lists[k], 1))
				return fail(l->err, l->errlen, -EBADMSG, "test %u malformed", i);
			for (uint32_t j = 0; j < lists[k].count; j++)
				if (!str_ok(l, p->pool[lists[k].start + j], true))
					return fail(l->err, l->errlen, -EBADMSG,
						    "test %u malformed", i);
		}
	}

	if ((s = by_type[RG_SEC_NAME_INDEX])) {
		uint32_t slots = m->index_slots;
		if (slots == 0 || (slots & (slots - 1)) || s->count != slots ||
		    s->len != (uint64_t)slots * sizeof(struct rg_bundle_index_entry))
			return fail(l->err, l->errlen, -EBADMSG, "name index malformed");
		p->index = (const struct rg_bundle_index_entry *)(l->body + s->offset);
		bool empty = false;
		for (uint32_t i = 0; i < slots; i++) {
			if (p->index[i].rule == UINT32_MAX)
				empty = true;
			else if (p->index[i].rule >= m->nrules)
				return fail(l->err, l->errlen, -EBADMSG, "name index: bad rule");
		}
		if (!empty) /* probing must terminate */
			return fail(l->err, l->errlen, -EBADMSG, "name index full");
	} else if (m->index_slots) {
		return fail(l->err, l->errlen, -EBADMSG, "name index missing");
	}

	int rc;
	if ((s = by_type[RG_SEC_HS_PREFILTER]) && (rc = load_hs(l, s, &p->prefilter)))
		return rc;
	if ((s = by_type[RG_SEC_HS_TEXT]) && (rc = load_hs(l, s, &p->text)))
		return rc;
	if ((s = by_type[RG_SEC_HS_MASK]) && (rc = load_hs(l, s, &p->maskdb)))
		return rc;
	return 0;
}

int rg_policy_load_mem(const void *buf, size_t len, const struct rg_policy_opts *opts,
		       struct rg_policy **out, char *err, size_t errlen)
{
	*out = NULL;
	if (len < RG_BUNDLE_HEADER_SIZE)
		return fail(err, errlen, -EBADMSG, "bundle truncated: %zu bytes, header needs %u",
			    len, RG_BUNDLE_HEADER_SIZE);
	struct rg_bundle_header h;
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, RG_BUNDLE_MAGIC, 8) != 0)
		return fail(err, errlen, -EPROTO, "not a ringgate bundle (bad magic)");
	if (h.version != RG_BUNDLE_VERSION)
		return fail(err, errlen, -EPROTO,
			    "bundle format version %u, this engine reads version %u", h.version,
			    RG_BUNDLE_VERSION);
	if (h.header_size != RG_BUNDLE_HEADER_SIZE || h.flags & ~RG_BUNDLE_F_SIGNED)
		return fail(err, errlen, -EBADMSG, "bundle header malformed");
	size_t want = RG_BUNDLE_HEADER_SIZE + h.body_len +
		      ((h.flags & RG_BUNDLE_F_SIGNED) ? RG_BUNDLE_SIG_SIZE : 0);
	if (h.body_len > RG_BUNDLE_MAX || want != len)
		return fail(err, errlen, -EBADMSG, "bundle truncated or padded: %zu bytes, header says %zu",
			    len, want);
	const uint8_t *bytes = buf;
	if (XXH3_64bits(bytes + RG_BUNDLE_HEADER_SIZE, h.body_len) != h.body_xxh3)
		return fail(err, errlen, -EBADMSG, "bundle checksum mismatch (corrupt)");
	bool is_signed = h.flags & RG_BUNDLE_F_SIGNED;
	if (is_signed &&
	    memcmp(bytes + RG_BUNDLE_HEADER_SIZE + h.body_len, RG_BUNDLE_SIG_MAGIC, 8) != 0)
		return fail(err, errlen, -EBADMSG, "bundle signature trailer malformed");
	if (opts && opts->pubkey_pem) {
		if (!is_signed)
			return fail(err, errlen, -EPERM,
				    "bundle is not signed but a public key is configured");
		int rc = verify_signature(bytes, RG_BUNDLE_HEADER_SIZE + h.body_len,
					  bytes + RG_BUNDLE_HEADER_SIZE + h.body_len + 8,
					  opts->pubkey_pem, err, errlen);
		if (rc)
			return rc;
	}

	struct rg_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return fail(err, errlen, -ENOMEM, "out of memory");
	/* own, 8-aligned copy: sections are read in place */
	p->buf = aligned_alloc(16, (len + 15) & ~(size_t)15);
	if (!p->buf) {
		free(p);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	memcpy(p->buf, buf, len);
	p->len = len;
	p->hdr = (const struct rg_bundle_header *)p->buf;
	p->signed_bundle = is_signed;
	memcpy(p->hs_version, h.hs_version, sizeof(h.hs_version));
	struct loader l = { .p = p,
			    .body = p->buf + RG_BUNDLE_HEADER_SIZE,
			    .body_len = h.body_len,
			    .err = err,
			    .errlen = errlen };
	int rc = load_sections(&l);
	if (rc) {
		rg_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int rg_policy_load_file(const char *path, const struct rg_policy_opts *opts,
			struct rg_policy **out, char *err, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return fail(err, errlen, e == ENOENT ? -ENOENT : -EIO, "%s: %s", path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > RG_BUNDLE_MAX) {
		close(fd);
		return fail(err, errlen, -EIO, "%s: not a regular file of sane size", path);
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	int rc = rg_policy_load_mem(buf, got, opts, out, err, errlen);
	free(buf);
	if (rc && err && errlen) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		snprintf(err, errlen, "%s", tmp);
	}
	return rc;
}

void rg_policy_get_info(const struct rg_policy *p, struct rg_policy_info *out)
{
	out->format_version = p->hdr->version;
	out->nrules = p->meta.nrules;
	out->nmasks = p->meta.nmasks;
	out->nlimits = p->meta.nlimits;
	out->ntests = p->meta.ntests;
	out->signed_bundle = p->signed_bundle;
	out->checksum = p->hdr->body_xxh3;
	out->hs_version = p->hs_version;
	out->packs = rg_pstr(p, p->meta.packs_str);
	out->prefilter_complete = p->meta.always_count == 0;
}

size_t rg_policy_column_globs(const struct rg_policy *p, const char **out, size_t cap)
{
	size_t n = 0;

	for (uint32_t i = 0; i < p->meta.nmasks; i++) {
		if (p->masks[i].b->detector >= 0)
			continue;
		for (uint32_t k = 0; k < p->masks[i].columns.n; k++, n++)
			if (n < cap)
				out[n] = p->masks[i].columns.v[k];
	}
	return n;
}

const struct rg_rule_info *rg_policy_rule(const struct rg_policy *p, uint32_t i)
{
	return i <= p->meta.nrules ? &p->infos[i] : NULL;
}
