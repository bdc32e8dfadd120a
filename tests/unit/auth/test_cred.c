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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_file_0600_is_read_without_newline),
		cmocka_unit_test(test_password_file_readable_by_others_is_refused),
		cmocka_unit_test(test_password_file_symlink_and_directory_are_refused),
		cmocka_unit_test(test_password_file_not_owned_by_us_is_refused),
		cmocka_unit_test(test_empty_or_missing_password_is_refused),
		cmocka_unit_test(test_password_from_environment),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
