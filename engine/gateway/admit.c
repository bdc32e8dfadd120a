/*
 * admit.c: admission, shared by every protocol: a connection is a pending login from accept
 * until its agent's token is verified, then a session; and session ids, unique across
 * protocols and restarts.
 *
 * Why a separate cap for logins in progress: before its token is verified a connection is
 * anyone's, and letting it take a max_sessions slot lets unauthenticated clients lock every
 * agent out. A pending login is short (a few round trips; password_timeout bounds the slow
 * ones), so the cap on them is small, and per address smaller still. Counters are atomics
 * shared by the workers, touched once when a connection arrives and once when it stops being
 * pending: never per message. A counter is incremented first and given back if that went
 * over the cap, so a cap is never exceeded, even by racing workers. No lock, no allocation.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "gateway-int.h"

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

uint32_t rg_gw_addr_bucket(const struct rg_gw *gw, const struct sockaddr_storage *peer)
{
	uint64_t hi, lo;

	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)peer;

		hi = 4;
		lo = ntohl(a->sin_addr.s_addr);
	} else if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)peer;
		const uint8_t *b = a->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) { /* the IPv4 client it is */
			hi = 4;
			lo = (uint64_t)b[12] << 24 | (uint64_t)b[13] << 16 | (uint64_t)b[14] << 8 |
			     b[15];
		} else { /* a /64: one host commonly has a whole one to pick addresses from */
			hi = 6;
			memcpy(&lo, b, 8);
		}
	} else {
		return RG_GW_NO_BUCKET;
	}
	return (uint32_t)(mix64(mix64(hi ^ gw->addr_key[0]) ^ lo ^ gw->addr_key[1]) %
			  RG_GW_ADDR_BUCKETS);
}

enum rg_gw_admit rg_gw_pending_enter(struct rg_gw *gw, const struct sockaddr_storage *peer,
				     uint32_t *bucket)
{
	uint32_t b = RG_GW_NO_BUCKET;

	*bucket = RG_GW_NO_BUCKET;
	if (gw->max_pending && atomic_fetch_add(&gw->npending, 1) >= gw->max_pending) {
		atomic_fetch_sub(&gw->npending, 1);
		return RG_GW_ADMIT_PENDING_FULL;
	}
	if (gw->addr_pending)
		b = rg_gw_addr_bucket(gw, peer);
	if (b != RG_GW_NO_BUCKET &&
	    atomic_fetch_add(&gw->addr_pending[b], 1) >= gw->max_pending_addr) {
		atomic_fetch_sub(&gw->addr_pending[b], 1);
		if (gw->max_pending)
			atomic_fetch_sub(&gw->npending, 1);
		return RG_GW_ADMIT_ADDRESS_FULL;
	}
	*bucket = b;
	return RG_GW_ADMIT_OK;
}

void rg_gw_pending_leave(struct rg_gw *gw, uint32_t bucket)
{
	if (gw->max_pending)
		atomic_fetch_sub(&gw->npending, 1);
	if (bucket != RG_GW_NO_BUCKET && gw->addr_pending)
		atomic_fetch_sub(&gw->addr_pending[bucket], 1);
}

bool rg_gw_session_enter(struct rg_gw *gw)
{
	if (!gw->max_sessions)
		return true;
	if (atomic_fetch_add(&gw->nsessions, 1) >= gw->max_sessions) {
		atomic_fetch_sub(&gw->nsessions, 1);
		return false;
	}
	return true;
}

void rg_gw_session_leave(struct rg_gw *gw)
{
	if (gw->max_sessions)
		atomic_fetch_sub(&gw->nsessions, 1);
}

uint64_t rg_gw_session_id(struct rg_gw *gw)
{
	return atomic_fetch_add(&gw->next_id, 1) + 1;
}
