/*
 * config-int: private types shared by the config module's files; never included outside
 * engine/config.
 *
 * yamltree.c turns the libyaml event stream into a small tree of scalars, mappings and
 * sequences that keeps each node's position; config.c walks that tree against the schema.
 * Building a tree first (instead of validating events on the fly) lets the schema code look
 * at a whole mapping, so it can report missing keys and conflicting keys next to unknown ones.
 * The tree refuses aliases (a self-referencing alias would make it a cycle), tags and nesting
 * deeper than CFG_MAX_DEPTH, so walking it always terminates with bounded recursion.
 */
#ifndef RG_CONFIG_INT_H
#define RG_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_MAX_DEPTH 32

/*
 * Error sink: counts errors and, when out is set, keeps them so cfg_errs_flush can print
 * them in file order (the schema walk visits sections in schema order, not file order) as
 * file:line:col: message.
 */
struct cfg_msg {
	uint32_t line, col;
	size_t seq; /* report order, to keep the sort stable */
	char *text;
};

struct cfg_errs {
	FILE *out;
	const char *file;
	unsigned count;
	struct cfg_msg *msgs;
	size_t n, cap;
};

void cfg_error(struct cfg_errs *e, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Print the kept errors sorted by position and release them. */
void cfg_errs_flush(struct cfg_errs *e);

enum cfg_node_kind {
	CFG_SCALAR,
	CFG_MAP,
	CFG_SEQ,
};

struct cfg_node {
	enum cfg_node_kind kind;
	uint32_t line, col;	/* 1-based start */
	char *str;		/* SCALAR: NUL-terminated copy */
	size_t len;		/* SCALAR: length, may differ from strlen if NUL inside */
	bool plain;		/* SCALAR: unquoted, so `~` or empty means null */
	struct cfg_node **kids; /* MAP: key, value, key, value...; SEQ: items */
	size_t n;		/* MAP: number of pairs; SEQ: number of items */
	size_t cap;
};

/*
 * Parse one YAML document into *root. Returns 0, or -EINVAL after reporting the syntax
 * error (or unsupported construct) to e, or -ENOMEM. *root is NULL for an empty document.
 */
int cfg_tree_parse(const char *buf, size_t len, struct cfg_errs *e, struct cfg_node **root);
void cfg_tree_free(struct cfg_node *n);
const char *cfg_kind_name(const struct cfg_node *n);

/* Bump allocator owning every string and array of a loaded config. */
struct rg_config_arena;
struct rg_config_arena *cfg_arena_new(void);
void cfg_arena_free(struct rg_config_arena *a);
void *cfg_alloc(struct rg_config_arena *a, size_t n); /* zeroed; NULL on ENOMEM */
char *cfg_strdup(struct rg_config_arena *a, const char *s);

#endif /* RG_CONFIG_INT_H */
