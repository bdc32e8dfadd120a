/*
 * Credential store: a password file is accepted only as a regular, owned, 0600-or-stricter
 * file (symlinks, directories, group/other-readable modes are refused with a precise
 * message that never contains the secret); one trailing newline is dropped; environment
 * variables work; empty secrets are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "kit.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/rg-auth-cred-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = kit_fmt("rm -rf '%s'", dir);

	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(cmd);
	return 0;
}

static char *make(const char *name, const char *content, mode_t mode)
{
	char *p = kit_fmt("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

static void test_password_file_0600_is_read_without_newline(void **state)
{
	char *p = make("ok", "Tr0ub4dor&3\n", 0600);
	struct rg_auth_cred *c;
	char err[256];
	size_t len;

	(void)state;
	assert_int_equal(rg_auth_cred_from_file(p, &c, err, sizeof(err)), 0);
	assert_string_equal(rg_auth_cred_secret(c, &len), "Tr0ub4dor&3");
	assert_int_equal(len, 11);
	rg_auth_cred_free(c);
	free(p);
	p = make("ro", "x", 0400);	/* stricter is fine */
	assert_int_equal(rg_auth_cred_from_file(p, &c, err, sizeof(err)), 0);
	rg_auth_cred_free(c);
	free(p);
}

static void test_password_file_readable_by_others_is_refused(void **state)
{
	char *p = make("loose", "supersecret", 0644);
	struct rg_auth_cred *c;
	char err[256];

	(void)state;
	assert_int_equal(rg_auth_cred_from_file(p, &c, err, sizeof(err)), -EPERM);
	assert_null(c);
	assert_non_null(strstr(err, "mode 0644"));
	assert_non_null(strstr(err, p));
	assert_null(strstr(err, "supersecret"));
	free(p);
	p = make("group", "supersecret", 0640);
	assert_int_equal(rg_auth_cred_from_file(p, &c, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "mode 0640"));
	free(p);
}

static void test_password_file_symlink_and_directory_are_refused(void **state)
{
	char *p = make("target", "pw", 0600);
	char *l = kit_fmt("%s/link", dir);
	struct rg_auth_cred *c;
	char err[256];

	(void)state;
	assert_int_equal(symlink(p, l), 0);
	assert_int_equal(rg_auth_cred_from_file(l, &c, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "symlink"));
	assert_int_equal(rg_auth_cred_from_file(dir, &c, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not a regular file"));
	free(p);
	free(l);
}

static void test_password_file_not_owned_by_us_is_refused(void **state)
{
	struct rg_auth_cred *c;
	char err[256];

	(void)state;
	if (geteuid() == 0) {
		char *p = make("foreign", "pw", 0600);

		assert_int_equal(chown(p, 12345, 12345), 0);
		assert_int_equal(rg_auth_cred_from_file(p, &c, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "owned by uid 12345"));
		free(p);
	} else {
		/* /etc/hostname is root's; mode may be 0644 but ownership is checked first. */
		assert_int_equal(rg_auth_cred_from_file("/etc/hostname", &c, err, sizeof(err)),
				 -EPERM);
		assert_non_null(strstr(err, "owned by uid 0"));
	}
}

static void test_empty_or_missing_password_is_refused(void **state)
{
	char *p = make("empty", "\n", 0600);
	char *missing = kit_fmt("%s/none", dir);
	struct rg_auth_cred *c;
	char err[256];

	(void)state;
	assert_int_equal(rg_auth_cred_from_file(p, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is empty"));
	assert_int_equal(rg_auth_cred_from_file(missing, &c, err, sizeof(err)), -ENOENT);
	free(p);
	free(missing);
}

static void test_password_from_environment(void **state)
{
	struct rg_auth_cred *c;
	char err[256];

	(void)state;
	setenv("RG_TEST_PW", "from-env", 1);
	assert_int_equal(rg_auth_cred_from_env("RG_TEST_PW", &c, err, sizeof(err)), 0);
	assert_string_equal(rg_auth_cred_secret(c, NULL), "from-env");
	rg_auth_cred_free(c);
	unsetenv("RG_TEST_PW");
	assert_int_equal(rg_auth_cred_from_env("RG_TEST_PW", &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "RG_TEST_PW is not set"));
	setenv("RG_TEST_PW", "", 1);
	assert_int_equal(rg_auth_cred_from_env("RG_TEST_PW", &c, err, sizeof(err)), -EINVAL);
}

/* The whole /proc/self/environ block (NUL-separated entries) contains needle. */
static bool environ_block_has(const char *needle)
{
	char buf[65536];
	size_t n = 0, l = strlen(needle);
	ssize_t r;
	int fd = open("/proc/self/environ", O_RDONLY);

	if (fd < 0)
		return false;
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)r;
	close(fd);
	for (size_t i = 0; i + l <= n; i++)
		if (!memcmp(buf + i, needle, l))
			return true;
	return false;
}

#define EXEC_PW "s3cret-in-the-initial-block"

/* Child mode (re-executed by the test below): the variable was in the environment at exec,
 * i.e. in the initial block /proc/PID/environ shows. Exit 0 when what mode expects holds. */
static int scrub_child(const char *mode)
{
	struct rg_auth_cred *c;
	char err[256];
	bool ok;

	if (rg_auth_cred_from_env("RG_TEST_EXEC_PW", &c, err, sizeof(err)))
		return 2;
	ok = !strcmp(rg_auth_cred_secret(c, NULL), EXEC_PW);
	if (!strcmp(mode, "scrub")) {
		rg_auth_env_scrub("RG_TEST_EXEC_PW");
		ok = ok && !getenv("RG_TEST_EXEC_PW") && !environ_block_has(EXEC_PW);
	} else {
		ok = ok && environ_block_has(EXEC_PW); /* the check can see it at all */
	}
	rg_auth_cred_free(c);
	return ok ? 0 : 1;
}

static int run_child(const char *mode)
{
	char *const argv[] = {"test_cred", "--scrub-child", (char *)mode, NULL};
	char *const envp[] = {"RG_TEST_EXEC_PW=" EXEC_PW, "ASAN_OPTIONS=detect_leaks=0", NULL};
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* password_env: once read, the value leaves the process's environment: no child inherits
 * it (unsetenv) and /proc/PID/environ no longer shows it (bytes overwritten in place). */
static void test_password_env_is_scrubbed_from_the_environment(void **state)
{
	struct rg_auth_cred *c;
	char err[256];
	char *val;

	(void)state;
	setenv("RG_TEST_PW2", "heap-copy-secret", 1);
	val = getenv("RG_TEST_PW2");
	assert_int_equal(rg_auth_cred_from_env("RG_TEST_PW2", &c, err, sizeof(err)), 0);
	rg_auth_env_scrub("RG_TEST_PW2");
	assert_null(getenv("RG_TEST_PW2"));
	assert_int_equal(val[0], '\0'); /* setenv's string is kept by glibc: now zeroed */
	assert_string_equal(rg_auth_cred_secret(c, NULL), "heap-copy-secret");
	rg_auth_cred_free(c);
	rg_auth_env_scrub("RG_TEST_PW2"); /* absent: nothing to do */

	assert_int_equal(run_child("look"), 0);
	assert_int_equal(run_child("scrub"), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_file_0600_is_read_without_newline),
		cmocka_unit_test(test_password_file_readable_by_others_is_refused),
		cmocka_unit_test(test_password_file_symlink_and_directory_are_refused),
		cmocka_unit_test(test_password_file_not_owned_by_us_is_refused),
		cmocka_unit_test(test_empty_or_missing_password_is_refused),
		cmocka_unit_test(test_password_from_environment),
		cmocka_unit_test(test_password_env_is_scrubbed_from_the_environment),
	};

	if (argc == 3 && !strcmp(argv[1], "--scrub-child"))
		return scrub_child(argv[2]);

	return cmocka_run_group_tests(tests, setup, teardown);
}
