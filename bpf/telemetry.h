/*
 * telemetry.h: the layout shared by telemetry.bpf.c (kernel) and bpf.c (userspace): map
 * indexes and the per-CPU histogram record. Plain C with fixed-width types only.
 */
#ifndef RG_BPF_TELEMETRY_H
#define RG_BPF_TELEMETRY_H

#define RG_BPF_BUCKETS 40 /* log2 buckets: [2^b, 2^(b+1)), bucket 0 also holds 0 */
#define RG_BPF_TCP_STATES 13

enum rg_bpf_hist_id {
	RG_BPF_HIST_URING_RECV = 0, /* ns, submit -> (first) completion */
	RG_BPF_HIST_URING_SEND,
	RG_BPF_HIST_URING_OTHER,
	RG_BPF_HIST_UNACKED, /* bytes sent and not acknowledged, at each ACK */
	RG_BPF_HIST__COUNT
};

enum rg_bpf_cnt_id {
	RG_BPF_CNT_URING_SUBMIT = 0,
	RG_BPF_CNT_URING_COMPLETE,
	RG_BPF_CNT_RETRANSMIT,
	RG_BPF_CNT_STATE, /* + new TCP state (1..12) */
	RG_BPF_CNT__COUNT = RG_BPF_CNT_STATE + RG_BPF_TCP_STATES
};

struct rg_bpf_hist_raw {
	__u64 bucket[RG_BPF_BUCKETS];
	__u64 count;
	__u64 sum;
};

#endif
