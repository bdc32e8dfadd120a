/* names.c: labels shared by both builds (with and without the programs). */
#include "rg_bpf.h"

const char *rg_bpf_tcp_state_name(unsigned st)
{
	static const char *const names[RG_BPF_TCP_STATES] = {
	    "unknown",	  "established", "syn_sent",  "syn_recv", "fin_wait1",
	    "fin_wait2", "time_wait",	"close",     "close_wait", "last_ack",
	    "listen",	  "closing",	 "new_syn_recv"};

	return st < RG_BPF_TCP_STATES ? names[st] : "unknown";
}
