/*
 * bpf.c: loads telemetry.bpf.c through its generated skeleton, attaches it, and sums its
 * per-CPU maps on demand. Built only with RG_BPF (see CMakeLists.txt); bpf_stub.c stands in
 * otherwise. libbpf's own messages are collected and the last one becomes the reason an
 * open failed, so the gateway logs one line, not libbpf's chatter.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rg_bpf.h"
#include "telemetry.skel.h"

struct rg_bpf {
	struct rg_telemetry *skel;
	int ncpu;
};

static __thread char last_msg[256];

static int on_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_WARN) {
		vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
		last_msg[strcspn(last_msg, "\n")] = '\0';
	}
	return 0;
}

bool rg_bpf_built(void)
{
	return true;
}

int rg_bpf_open(uint32_t tgid, struct rg_bpf **out, char *why, size_t n)
{
	struct rg_bpf *b = calloc(1, sizeof(*b));
	int r;

	*out = NULL;
	last_msg[0] = '\0';
	libbpf_set_print(on_print);
	if (!b)
		return -ENOMEM;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(why, n, "no kernel BTF (/sys/kernel/btf/vmlinux)");
		r = -ENOENT;
		goto fail;
	}
	if (access("/sys/kernel/tracing/events/io_uring", R_OK) &&
	    ((r = -errno), access("/sys/kernel/debug/tracing/events/io_uring", R_OK))) {
		if (r == -EACCES || r == -EPERM)
			snprintf(why, n, "no permission to read tracefs (BPF telemetry needs root, or "
					 "CAP_BPF and CAP_PERFMON with tracefs readable)");
		else
			snprintf(why, n, "tracefs is not mounted, or has no io_uring events (mount -t "
					 "tracefs none /sys/kernel/tracing)");
		goto fail;
	}
	b->skel = rg_telemetry__open();
	if (!b->skel) {
		r = -errno ? -errno : -EINVAL;
		snprintf(why, n, "open: %s", last_msg[0] ? last_msg : strerror(-r));
		goto fail;
	}
	b->skel->rodata->target_tgid = tgid;
	if ((r = rg_telemetry__load(b->skel))) {
		snprintf(why, n, "load: %s", last_msg[0] ? last_msg : strerror(-r));
		goto fail;
	}
	if ((r = rg_telemetry__attach(b->skel))) {
		snprintf(why, n, "attach: %s", last_msg[0] ? last_msg : strerror(-r));
		goto fail;
	}
	b->ncpu = libbpf_num_possible_cpus();
	if (b->ncpu <= 0) {
		r = b->ncpu ? b->ncpu : -EINVAL;
		snprintf(why, n, "cannot count the CPUs");
		goto fail;
	}
	libbpf_set_print(NULL);
	*out = b;
	return 0;
fail:
	libbpf_set_print(NULL);
	rg_telemetry__destroy(b->skel);
	free(b);
	return r < 0 ? r : -EINVAL;
}

int rg_bpf_read(struct rg_bpf *b, struct rg_bpf_stats *s)
{
	struct rg_bpf_hist_raw *h = calloc((size_t)b->ncpu, sizeof(*h));
	__u64 *c = calloc((size_t)b->ncpu, sizeof(*c));
	int hf = bpf_map__fd(b->skel->maps.hists), cf = bpf_map__fd(b->skel->maps.counters);
	int r = 0;

	memset(s, 0, sizeof(*s));
	if (!h || !c) {
		r = -ENOMEM;
		goto out;
	}
	for (__u32 k = 0; k < RG_BPF_HIST__COUNT && !r; k++) {
		if (bpf_map_lookup_elem(hf, &k, h)) {
			r = -errno;
			break;
		}
		for (int cpu = 0; cpu < b->ncpu; cpu++) {
			for (int i = 0; i < RG_BPF_BUCKETS; i++)
				s->hist[k].bucket[i] += h[cpu].bucket[i];
			s->hist[k].count += h[cpu].count;
			s->hist[k].sum += h[cpu].sum;
		}
	}
	for (__u32 k = 0; k < RG_BPF_CNT__COUNT && !r; k++) {
		if (bpf_map_lookup_elem(cf, &k, c)) {
			r = -errno;
			break;
		}
		for (int cpu = 0; cpu < b->ncpu; cpu++)
			s->cnt[k] += c[cpu];
	}
out:
	free(h);
	free(c);
	return r;
}

void rg_bpf_close(struct rg_bpf *b)
{
	if (!b)
		return;
	rg_telemetry__destroy(b->skel);
	free(b);
}
