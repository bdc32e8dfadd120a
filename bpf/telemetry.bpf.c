// SPDX-License-Identifier: GPL-2.0
/*
 * telemetry.bpf.c: kernel-side latency and TCP telemetry for one ringgate process
 * (bpf/rg_bpf.h says what userspace reads). Tracepoints only (this kernel refuses fentry and
 * has no kprobes): io_uring request submit -> completion time for the process's rings, by
 * operation class; and for the process's own TCP sockets, retransmits, state changes and the
 * bytes in flight at each ACK (the send queue the peer has not acknowledged yet).
 *
 * "The process's own": io_uring events are filtered by the tgid userspace sets. TCP events
 * often fire in softirq context, where the current task is anyone, so sockets are marked as
 * ringgate's when one of its threads sends or receives on them (sock_send_length /
 * sock_recv_length run in the caller's context, io_uring's workers included) or moves them
 * to a state (connect); a closed socket is forgotten.
 *
 * Everything is aggregated here (per-CPU log2 histograms and counters); userspace sums the
 * CPUs on each scrape. No event leaves the kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "telemetry.h"

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RG_BPF_HIST__COUNT);
	__type(key, __u32);
	__type(value, struct rg_bpf_hist_raw);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RG_BPF_CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct inflight {
	__u64 ts;
	__u32 cls;
};

/* io_uring requests submitted and not yet completed (first completion of a multishot) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct inflight);
} reqs SEC(".maps");

/* ringgate's TCP sockets, by struct sock address */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, __u64);
	__type(value, __u8);
} socks SEC(".maps");

static __always_inline bool ours(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void count(__u32 k)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &k);

	if (c)
		(*c)++;
}

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b = 0;

	/* bucket b holds [2^b, 2^(b+1)); 0 holds 0 and 1 */
#pragma unroll
	for (int i = 5; i >= 0; i--) {
		__u64 s = 1ull << i;

		if (v >= (1ull << s)) {
			v >>= s;
			b += (__u32)s;
		}
	}
	return b < RG_BPF_BUCKETS ? b : RG_BPF_BUCKETS - 1;
}

static __always_inline void observe(__u32 h, __u64 v)
{
	struct rg_bpf_hist_raw *x = bpf_map_lookup_elem(&hists, &h);
	__u32 b = log2_bucket(v);

	if (!x)
		return;
	if (b < RG_BPF_BUCKETS)
		x->bucket[b]++;
	x->count++;
	x->sum += v;
}

static __always_inline __u32 op_class(__u8 op)
{
	switch (op) {
	case 27: /* IORING_OP_RECV */
	case 10: /* IORING_OP_RECVMSG */
	case 22: /* IORING_OP_READ */
		return RG_BPF_HIST_URING_RECV;
	case 26: /* IORING_OP_SEND */
	case 9:	 /* IORING_OP_SENDMSG */
	case 47: /* IORING_OP_SEND_ZC */
	case 48: /* IORING_OP_SENDMSG_ZC */
	case 23: /* IORING_OP_WRITE */
		return RG_BPF_HIST_URING_SEND;
	default:
		return RG_BPF_HIST_URING_OTHER;
	}
}

SEC("tracepoint/io_uring/io_uring_submit_req")
int on_submit(struct trace_event_raw_io_uring_submit_req *ctx)
{
	struct inflight f;
	__u64 req;

	if (!ours())
		return 0;
	req = (__u64)ctx->req;
	f.ts = bpf_ktime_get_ns();
	f.cls = op_class(ctx->opcode);
	bpf_map_update_elem(&reqs, &req, &f, BPF_ANY);
	count(RG_BPF_CNT_URING_SUBMIT);
	return 0;
}

SEC("tracepoint/io_uring/io_uring_complete")
int on_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	__u64 req = (__u64)ctx->req;
	struct inflight *f = bpf_map_lookup_elem(&reqs, &req);

	if (!f)
		return 0; /* not ours, or a multishot's later completions */
	observe(f->cls, bpf_ktime_get_ns() - f->ts);
	count(RG_BPF_CNT_URING_COMPLETE);
	bpf_map_delete_elem(&reqs, &req);
	return 0;
}

static __always_inline void mark(const void *sk)
{
	__u64 k = (__u64)sk;
	__u8 one = 1;

	if (ours() && !bpf_map_lookup_elem(&socks, &k))
		bpf_map_update_elem(&socks, &k, &one, BPF_ANY);
}

static __always_inline bool is_ours(const void *sk)
{
	__u64 k = (__u64)sk;

	return bpf_map_lookup_elem(&socks, &k) != 0;
}

SEC("tracepoint/sock/sock_send_length")
int on_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == 6 /* IPPROTO_TCP */)
		mark(ctx->sk);
	return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int on_recv_length(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == 6)
		mark(ctx->sk);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 k = (__u64)ctx->skaddr;
	int st = ctx->newstate;

	if (ctx->protocol != 6)
		return 0;
	mark(ctx->skaddr);
	if (!is_ours(ctx->skaddr))
		return 0;
	if (st > 0 && st < RG_BPF_TCP_STATES)
		count(RG_BPF_CNT_STATE + (__u32)st);
	if (st == 7 /* TCP_CLOSE */)
		bpf_map_delete_elem(&socks, &k);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int on_retransmit(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	if (is_ours(ctx->skaddr))
		count(RG_BPF_CNT_RETRANSMIT);
	return 0;
}

SEC("tracepoint/tcp/tcp_probe")
int on_probe(struct trace_event_raw_tcp_probe *ctx)
{
	if (is_ours(ctx->skaddr))
		observe(RG_BPF_HIST_UNACKED, (__u64)(__u32)(ctx->snd_nxt - ctx->snd_una));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
