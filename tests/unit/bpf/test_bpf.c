/*
 * Unit test for rg_bpf (bpf/): with the programs attached to this process, 200 sends and
 * receives through an io_uring over a loopback TCP connection show up as submissions,
 * completions and latency histograms for both classes; the connection's sockets are ours:
 * their state changes (established, close) are counted and the bytes in flight at ACKs are
 * observed; another process's io_uring is not counted. A child that dropped root cannot load
 * the programs and gets a reason instead of a crash (the gateway then serves
 * ringgate_bpf_enabled 0). Exits 77 (skip) with the reason when the programs are not built
 * or this machine does not let root load them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rg_bpf.h"

static struct rg_bpf *g_bpf;

static void pair(int *a, int *b)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*b = accept(l, NULL, NULL);
	assert_true(*b >= 0);
	close(l);
}

/* n round trips of len bytes through an io_uring: a send on a, a recv on b */
static void uring_traffic(int a, int b, int n, size_t len)
{
	struct io_uring ring;
	char *out = calloc(1, len), *in = calloc(1, len);

	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	for (int i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;
		size_t got = 0;

		io_uring_prep_send(io_uring_get_sqe(&ring), a, out, len, 0);
		assert_int_equal(io_uring_submit_and_wait(&ring, 1), 1);
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_int_equal(cqe->res, (int)len);
		io_uring_cqe_seen(&ring, cqe);
		while (got < len) {
			io_uring_prep_recv(io_uring_get_sqe(&ring), b, in, len - got, 0);
			assert_int_equal(io_uring_submit_and_wait(&ring, 1), 1);
			assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
			assert_true(cqe->res > 0);
			got += (size_t)cqe->res;
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	io_uring_queue_exit(&ring);
	free(out);
	free(in);
}

static void test_counts_this_process(void **state)
{
	struct rg_bpf_stats s0, s1;
	int a, b, st;
	pid_t pid;

	(void)state;
	assert_int_equal(rg_bpf_read(g_bpf, &s0), 0);
	/* another process's ring is not ours */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int x, y;

		pair(&x, &y);
		uring_traffic(x, y, 300, 100);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(rg_bpf_read(g_bpf, &s1), 0);
	assert_int_equal(s1.cnt[RG_BPF_CNT_URING_SUBMIT], s0.cnt[RG_BPF_CNT_URING_SUBMIT]);
	/* ours */
	pair(&a, &b);
	uring_traffic(a, b, 200, 65536);
	close(a);
	close(b);
	usleep(100000);
	assert_int_equal(rg_bpf_read(g_bpf, &s1), 0);
	assert_true(s1.cnt[RG_BPF_CNT_URING_SUBMIT] - s0.cnt[RG_BPF_CNT_URING_SUBMIT] >= 400);
	assert_true(s1.cnt[RG_BPF_CNT_URING_COMPLETE] - s0.cnt[RG_BPF_CNT_URING_COMPLETE] >= 400);
	assert_true(s1.hist[RG_BPF_HIST_URING_SEND].count - s0.hist[RG_BPF_HIST_URING_SEND].count >=
		    200);
	assert_true(s1.hist[RG_BPF_HIST_URING_RECV].count - s0.hist[RG_BPF_HIST_URING_RECV].count >=
		    200);
	assert_true(s1.hist[RG_BPF_HIST_URING_SEND].sum > s0.hist[RG_BPF_HIST_URING_SEND].sum);
	/* our sockets: closed (both), and bytes in flight seen at ACKs */
	assert_true(s1.cnt[RG_BPF_CNT_STATE + 7] - s0.cnt[RG_BPF_CNT_STATE + 7] >= 1);
	assert_true(s1.hist[RG_BPF_HIST_UNACKED].count > s0.hist[RG_BPF_HIST_UNACKED].count);
	assert_string_equal(rg_bpf_tcp_state_name(1), "established");
}

static void test_refused_without_root(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rg_bpf *b = NULL;
		char why[256] = "";
		int r;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		r = rg_bpf_open((uint32_t)getpid(), &b, why, sizeof(why));
		if (r == 0 || b || !why[0])
			_exit(1);
		fprintf(stderr, "without root: %s (%s)\n", why, strerror(-r));
		_exit(0);
	}
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts_this_process),
	    cmocka_unit_test(test_refused_without_root),
	};
	char why[256] = "";
	int r;

	if (!rg_bpf_built()) {
		(void)rg_bpf_open((uint32_t)getpid(), &g_bpf, why, sizeof(why));
		printf("skip: %s\n", why);
		return 77;
	}
	if (geteuid() != 0) {
		printf("skip: loading BPF programs needs root here\n");
		return 77;
	}
	if ((r = rg_bpf_open((uint32_t)getpid(), &g_bpf, why, sizeof(why)))) {
		printf("skip: this machine does not load the programs: %s (%s)\n", why, strerror(-r));
		return 77;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	rg_bpf_close(g_bpf);
	return r;
}
