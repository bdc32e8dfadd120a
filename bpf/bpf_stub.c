/*
 * bpf_stub.c: rg_bpf without the programs (a build without clang, bpftool, libbpf or kernel
 * BTF): every open fails with the reason, so the gateway says why once and serves
 * ringgate_bpf_enabled 0.
 */
#include <errno.h>
#include <stdio.h>

#include "rg_bpf.h"

bool rg_bpf_built(void)
{
	return false;
}

int rg_bpf_open(uint32_t tgid, struct rg_bpf **out, char *why, size_t n)
{
	(void)tgid;
	*out = NULL;
	snprintf(why, n, "built without eBPF (RG_BPF: needs clang, bpftool, libbpf-dev and kernel "
			 "BTF at build time)");
	return -ENOSYS;
}

int rg_bpf_read(struct rg_bpf *b, struct rg_bpf_stats *s)
{
	(void)b;
	(void)s;
	return -ENOSYS;
}

void rg_bpf_close(struct rg_bpf *b)
{
	(void)b;
}
