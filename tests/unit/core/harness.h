/*
 * harness.h: loopback peers and clients for the core's tests: a threaded echo server, a
 * "firehose" server that streams a known pattern, a poll-driven client that sends a
 * pattern and verifies every echoed byte, and small helpers (skip, RSS, waiting).
 */
#ifndef RG_CORE_HARNESS_H
#define RG_CORE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "fwd_ops.h"

/* exit(77) with a reason when io_uring (or a needed feature) is unavailable */
void h_skip_without_uring(void);

/* Start servers on 127.0.0.1:0 in background threads; return the port. */
unsigned short h_echo_server(void);
unsigned short h_firehose_server(void);

/* The byte at stream position i of pattern seed. */
static inline uint8_t h_pat(uint64_t seed, uint64_t i)
{
	return (uint8_t)(((i + seed) * 0x9E3779B97F4A7C15ull) >> 56);
}

int h_connect(unsigned short port);

/*
 * Send total bytes of pattern seed through fd and read the echo back concurrently, checking
 * each byte; then half-close and expect EOF. If reset_after is non-zero, abort the
 * connection with RST once that many bytes were sent. Returns 0 or a negative errno
 * (-EILSEQ on a wrong byte, -ETIMEDOUT on a 20 s stall). Closes fd.
 */
int h_xfer(int fd, uint64_t total, uint64_t seed, uint64_t reset_after);

/* Start an engine with the forward protocol towards 127.0.0.1:up_port. */
struct rg_core *h_start_fwd(const struct rg_core_config *cfg, struct fwd_ctx *ctx,
			    unsigned short up_port, unsigned short *port);

long h_rss_kb(void);
uint64_t h_ms(void);
/* Wait up to ms for stats.active to reach 0. */
int h_wait_idle(struct rg_core *c, unsigned ms);

#endif
