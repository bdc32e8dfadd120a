/*
 * telemetry: the Prometheus text exposition of a running gateway (GET /metrics on the admin
 * listener; docs/metrics.md). Everything it reports is read on the scrape, from per-worker
 * counters each worker alone writes (summed here: no atomics or locks on the data path), the
 * engine's per-worker io_uring figures, the audit trail's writer, and the eBPF maps.
 */
#ifndef RG_TELEMETRY_H
#define RG_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

struct rg_core;
struct rg_gw;
struct rg_audit;
struct rg_bpf;

struct rg_telemetry_src {
	const char *version;
	struct rg_core *core;
	struct rg_gw *svc; /* the protocol modules' counters, the targets' session counts */
	struct rg_audit *audit, *recordings; /* NULL: none */
	struct rg_bpf *bpf;		     /* NULL: eBPF telemetry off (ringgate_bpf_enabled 0) */
	/* the policy bundle's reloads (main.c counts them) */
	uint64_t reloads_ok, reloads_failed;
};

/* The exposition (format 0.0.4) in *out (malloc'd, NUL-terminated) and *len. 0 or -ENOMEM. */
int rg_telemetry_render(const struct rg_telemetry_src *src, char **out, size_t *len);

/* ---- the exposition writer (exported for tests) ------------------------------------------- */

struct rg_prom {
	char *p;
	size_t len, cap;
	int err;
};
/* # HELP and # TYPE of a family (type: counter, gauge, histogram). */
void rg_prom_family(struct rg_prom *b, const char *name, const char *type, const char *help);
/* One sample: name{labels} value; labels: "k1", "v1", "k2", "v2", ..., NULL (values escaped). */
void rg_prom_sample(struct rg_prom *b, const char *name, double v, ...);
/* A log2 histogram: counts[i] in [2^i, 2^(i+1)) units, scaled by unit (e.g. 1e-6 for µs to
 * seconds), as cumulative _bucket{le=...} samples, _sum and _count; labels as above. */
void rg_prom_log2_hist(struct rg_prom *b, const char *name, const uint64_t *counts, unsigned n,
		       uint64_t count, double sum, double unit, ...);

#endif
