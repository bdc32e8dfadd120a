/*
 * wire-int.h: helpers shared by the .c files of engine/proto/mysql, not part of the module's
 * interface. struct wr is the builders' writer: it counts every byte but stores only what
 * fits in the caller's buffer, so one call both sizes and writes a packet; the 4-byte
 * header is reserved first and filled by wr_finish once the payload length is known.
 */
#ifndef RG_PROTO_MYSQL_WIRE_INT_H
#define RG_PROTO_MYSQL_WIRE_INT_H

#include <string.h>

#include "mysql-wire.h"

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int _e = (x);                                                                      \
		if (_e < 0)                                                                        \
			return _e;                                                                 \
	} while (0)

static inline uint64_t le_get(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void le_put(uint8_t *p, uint64_t v, unsigned width)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

struct wr {
	uint8_t *buf;
	size_t cap, len;
};

static inline void wr_init(struct wr *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = RG_MY_HDR;
}

static inline void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (n && w->len <= w->cap && n <= w->cap - w->len)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static inline void wr_zero(struct wr *w, size_t n)
{
	if (n && w->len <= w->cap && n <= w->cap - w->len)
		memset(w->buf + w->len, 0, n);
	w->len += n;
}

static inline void wr_le(struct wr *w, uint64_t v, unsigned width)
{
	uint8_t b[8];

	le_put(b, v, width);
	wr_bytes(w, b, width);
}

static inline void wr_lenenc(struct wr *w, uint64_t v)
{
	uint8_t b[9];

	wr_bytes(w, b, rg_my_lenenc_encode(b, v));
}

static inline void wr_lenenc_str(struct wr *w, const void *p, uint64_t n)
{
	wr_lenenc(w, n);
	wr_bytes(w, p, (size_t)n);
}

/* Fill the header; a payload of 0xffffff or more cannot be one packet. */
static inline ssize_t wr_finish(struct wr *w, uint8_t seq)
{
	size_t payload = w->len - RG_MY_HDR;

	if (payload >= RG_MY_MAX_PACKET)
		return RG_MY_E_TOO_LONG;
	if (w->len <= w->cap) {
		le_put(w->buf, payload, 3);
		w->buf[3] = seq;
	}
	return (ssize_t)w->len;
}

/* True if s[0..n) holds no NUL (strings written NUL-terminated must not). */
static inline bool no_nul(const void *s, size_t n)
{
	return !n || !memchr(s, 0, n);
}

#endif
