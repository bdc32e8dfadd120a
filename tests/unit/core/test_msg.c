/*
 * test_msg.c: cross-thread messages. rg_core_post() runs a function on the chosen worker's
 * own thread: from the control thread, from one worker to another (the path a PostgreSQL
 * CancelRequest takes to reach the worker owning the session), and under contention from
 * several producers without losing or duplicating a message.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

struct probe {
	_Atomic int ran;
	unsigned worker;
	pthread_t thr;
	struct probe *next_hop;	/* forwarded to worker 1 from worker 0 */
};

static void probe_fn(struct rg_worker *w, void *arg)
{
	struct probe *p = arg;

	p->worker = rg_worker_id(w);
	p->thr = pthread_self();
	if (p->next_hop)
		assert_int_equal(rg_core_post(rg_worker_core(w), 1, probe_fn, p->next_hop), 0);
	atomic_store(&p->ran, 1);
}

static int wait_ran(_Atomic int *flag)
{
	uint64_t end = h_ms() + 3000;

	while (!atomic_load(flag)) {
		if (h_ms() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static struct rg_core *start2(void)
{
	struct rg_core_config cfg = { .workers = 2 };
	static struct fwd_ctx ctx;
	unsigned short port;

	return h_start_fwd(&cfg, &ctx, 1, &port);
}

static void stop(struct rg_core *c)
{
	rg_core_shutdown(c, 0);
	assert_int_equal(rg_core_join(c), 0);
	rg_core_free(c);
}

static void test_post_runs_on_target_worker_thread(void **state)
{
	struct rg_core *c = start2();
	struct probe p0 = { 0 }, p1 = { 0 };

	(void)state;
	assert_int_equal(rg_core_post(c, 0, probe_fn, &p0), 0);
	assert_int_equal(rg_core_post(c, 1, probe_fn, &p1), 0);
	assert_int_equal(wait_ran(&p0.ran), 0);
	assert_int_equal(wait_ran(&p1.ran), 0);
	assert_int_equal(p0.worker, 0);
	assert_int_equal(p1.worker, 1);
	assert_false(pthread_equal(p0.thr, pthread_self()));
	assert_false(pthread_equal(p0.thr, p1.thr));
	assert_int_equal(rg_core_post(c, 2, probe_fn, &p0), -EINVAL);
	stop(c);
}

static void test_worker_posts_to_another_worker(void **state)
{
	struct rg_core *c = start2();
	struct probe hop = { 0 }, first = { .next_hop = &hop };

	(void)state;
	assert_int_equal(rg_core_post(c, 0, probe_fn, &first), 0);
	assert_int_equal(wait_ran(&hop.ran), 0);
	assert_int_equal(first.worker, 0);
	assert_int_equal(hop.worker, 1);
	assert_false(pthread_equal(first.thr, hop.thr));
	stop(c);
}

enum { PER_PRODUCER = 50000, PRODUCERS = 3 };
static _Atomic unsigned long delivered;
static _Atomic unsigned long sum;

static void count_fn(struct rg_worker *w, void *arg)
{
	(void)w;
	atomic_fetch_add(&delivered, 1);
	atomic_fetch_add(&sum, (unsigned long)(uintptr_t)arg);
}

static void *producer(void *arg)
{
	struct rg_core *c = arg;
	unsigned long i;

	for (i = 1; i <= PER_PRODUCER; i++) {
		while (rg_core_post(c, 1, count_fn, (void *)(uintptr_t)i) == -EAGAIN)
			sched_yield();
	}
	return NULL;
}

static void test_many_producers_lose_nothing(void **state)
{
	struct rg_core *c = start2();
	pthread_t t[PRODUCERS];
	unsigned long want = (unsigned long)PRODUCERS * PER_PRODUCER;
	uint64_t end;
	unsigned i;

	(void)state;
	for (i = 0; i < PRODUCERS; i++)
		pthread_create(&t[i], NULL, producer, c);
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(t[i], NULL);
	end = h_ms() + 5000;
	while (atomic_load(&delivered) < want && h_ms() < end)
		usleep(1000);
	assert_int_equal(atomic_load(&delivered), want);
	assert_int_equal(atomic_load(&sum),
			 (unsigned long)PRODUCERS * PER_PRODUCER * (PER_PRODUCER + 1) / 2);
	stop(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_runs_on_target_worker_thread),
		cmocka_unit_test(test_worker_posts_to_another_worker),
		cmocka_unit_test(test_many_producers_lose_nothing),
	};

	h_skip_without_uring();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
