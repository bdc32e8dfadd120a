/*
 * gateway: the services every protocol module uses and none owns (docs/DESIGN "A second
 * protocol"). So far the event log (rg_log, rg_logval): one format for every protocol's
 * lines, which tests, tools and log pipelines parse.
 *
 * Never: a secret (a target's password, an agent's token) in a log line.
 */
#ifndef RG_GATEWAY_H
#define RG_GATEWAY_H

#include <stddef.h>

/* ---- the event log (log.c) --------------------------------------------------------------- */

/* One key=value log line on stderr, written with a single write(2), ending with ts=<UTC time,
 * microseconds>. */
void rg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A value for a log line, escaped so that it is one token that cannot end the line or add a
 * key=value pair, yet stays readable: bytes 0x21..0x7e other than '"', '\' and '=' as they
 * are; a backslash doubled; newline, carriage return and tab as \n, \r, \t; every other byte
 * (space, '"', '=', control bytes, non-ASCII) as \xHH. NULL or "" gives "-" (absent), so a
 * value "-" is written \x2d. At most cap - 1 bytes, never cut inside an escape; a value cut
 * short ends with "..." (when cap > 8). Every value that comes from a token, a client or a
 * target goes through this before it is logged. Returns out.
 */
const char *rg_logval(const char *in, char *out, size_t cap);

#endif /* RG_GATEWAY_H */
