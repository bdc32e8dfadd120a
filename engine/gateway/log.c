/*
 * log.c: the gateway's event log: one key=value line per event on stderr, each written with a
 * single write(2) (lines of concurrent workers never interleave), ending with ts=<UTC time,
 * microseconds>; and the escaping every value from a token, a client or a target goes through
 * before it is logged (rg_logval), so that no value can end a line or forge a key=value pair.
 *
 * The format is a contract: tests, tools/ and operators' log pipelines parse it. Any thread;
 * no allocation, no lock. Never given a secret to log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"

void rg_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	struct timespec ts;
	struct tm tm;
	char t[48];
	int k;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* when, in UTC with microseconds, last: readers match lines by their first key */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(t, sizeof(t), " ts=%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000);
	if (k > 0 && (size_t)n + (size_t)k < sizeof(line) - 1) {
		memcpy(line + n, t, (size_t)k);
		n += k;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* One byte of a log value, escaped (see rg_logval) into esc[0..4); returns its length. */
static size_t logval_byte(unsigned char c, char *esc)
{
	static const char hex[] = "0123456789abcdef";

	if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=') {
		esc[0] = (char)c;
		return 1;
	}
	esc[0] = '\\';
	if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
		esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\';
		return 2;
	}
	esc[1] = 'x';
	esc[2] = hex[c >> 4];
	esc[3] = hex[c & 15];
	return 4;
}

const char *rg_logval(const char *in, char *out, size_t cap)
{
	size_t i, j = 0, n, total = 0, room;
	char esc[4];

	if (!cap)
		return out;
	if (!in || !in[0] || (in[0] == '-' && !in[1])) {
		snprintf(out, cap, "%s", in && in[0] ? "\\x2d" : "-");
		return out;
	}
	for (i = 0; in[i]; i++)
		total += logval_byte((unsigned char)in[i], esc);
	/* cut short: leave room for the "..." that says so */
	room = total < cap || cap <= 8 ? cap - 1 : cap - 4;
	for (i = 0; in[i]; i++) {
		n = logval_byte((unsigned char)in[i], esc);
		if (j + n > room) {
			if (cap > 8)
				j += (size_t)snprintf(out + j, cap - j, "...");
			break;
		}
		memcpy(out + j, esc, n);
		j += n;
	}
	out[j] = 0;
	return out;
}
