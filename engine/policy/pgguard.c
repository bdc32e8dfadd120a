/*
 * pgguard: runs a piece of PostgreSQL's code (libpg_query) so that an ERROR it raises comes
 * back as a return value instead of unwinding through our frames.
 *
 * PostgreSQL reports errors with siglongjmp to *PG_exception_stack (PG_TRY). libpg_query
 * builds those globals thread-local, while the server headers sqlclass_raw.c compiles
 * against declare them plain extern; so this file includes no server header and declares
 * the three it needs as libpg_query defines them. It restores what PG_TRY/PG_CATCH would
 * (exception stack, error context stack, current memory context) and flushes the error.
 * The caller's memory context must still be released by the caller.
 */
#include <setjmp.h>
#include <stddef.h>

#include "sqlclass_raw.h"

extern __thread sigjmp_buf *PG_exception_stack;
extern __thread void *error_context_stack;
extern __thread void *CurrentMemoryContext;
extern void FlushErrorState(void);

int rg_pg_guarded(void (*fn)(void *), void *arg)
{
	sigjmp_buf jb;
	sigjmp_buf *volatile save = PG_exception_stack;
	void *volatile ectx = error_context_stack;
	void *volatile mctx = CurrentMemoryContext;

	if (sigsetjmp(jb, 0) == 0) {
		PG_exception_stack = &jb;
		fn(arg);
		PG_exception_stack = save;
		return 0;
	}
	PG_exception_stack = save;
	error_context_stack = ectx;
	CurrentMemoryContext = mctx;
	FlushErrorState();
	return -1;
}
