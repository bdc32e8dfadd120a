/*
 * rg_bpf: eBPF telemetry of one ringgate process (bpf/telemetry.bpf.c), for /metrics.
 *
 * What it measures, aggregated in the kernel: io_uring request submit -> completion time
 * for the process's rings (receives, sends, everything else), and for the process's own TCP
 * sockets the retransmits, the state changes and the bytes in flight at each ACK. Built
 * with clang and bpftool into a libbpf skeleton when the machine has them and kernel BTF
 * (RG_BPF=AUTO); otherwise, and at run time without privileges, BTF or tracefs,
 * rg_bpf_open fails with a one-line reason and the gateway runs on without it
 * (ringgate_bpf_enabled 0).
 */
#ifndef RG_BPF_H
#define RG_BPF_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"

struct rg_bpf;

struct rg_bpf_stats {
	struct rg_bpf_hist_raw hist[RG_BPF_HIST__COUNT]; /* summed over CPUs */
	uint64_t cnt[RG_BPF_CNT__COUNT];
};

/* Whether this build has the programs at all. */
bool rg_bpf_built(void);
/* Load and attach for process tgid. 0, or a negative errno with why (one line). */
int rg_bpf_open(uint32_t tgid, struct rg_bpf **out, char *why, size_t n);
/* The totals so far (any thread; reads the maps). 0 or a negative errno. */
int rg_bpf_read(struct rg_bpf *b, struct rg_bpf_stats *s);
void rg_bpf_close(struct rg_bpf *b);

/* The TCP state names the kernel numbers 1..12 ("established", ...), for labels. */
const char *rg_bpf_tcp_state_name(unsigned st);

#endif
