/* options: sigstreamd's defaults, and flags over SIGSTREAM_* variables. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/options.h"

/* Parses argv (NULL-terminated) with stderr captured into `err`. */
static enum options_result parse(struct options *o, char **argv, char *err, size_t cap)
{
	int argc = 0;
	FILE *e = fmemopen(err, cap, "w");
	FILE *out = fopen("/dev/null", "w");
	enum options_result r;

	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(out);
	while (argv[argc] != NULL)
		argc++;
	memset(err, 0, cap);
	r = options_parse(o, argc, argv, out, e);
	fclose(e);
	fclose(out);
	return r;
}

START_TEST(test_default_threads)
{
	ck_assert_uint_eq(options_default_threads(-1), 1); /* sysconf failed */
	ck_assert_uint_eq(options_default_threads(0), 1);
	ck_assert_uint_eq(options_default_threads(1), 1);
	ck_assert_uint_eq(options_default_threads(2), 2);
	ck_assert_uint_eq(options_default_threads(8), 8);
	ck_assert_uint_eq(options_default_threads(64), 64);
	ck_assert_uint_eq(options_default_threads(512), 64);
}
END_TEST

START_TEST(test_defaults)
{
	char *argv[] = {"sigstreamd", NULL};
	struct options o;
	char err[256];

	unsetenv("SIGSTREAM_THREADS");
	unsetenv("SIGSTREAM_RATE");
	ck_assert_int_eq(parse(&o, argv, err, sizeof(err)), OPTIONS_RUN);
	ck_assert_uint_eq(o.threads, options_default_threads(sysconf(_SC_NPROCESSORS_ONLN)));
	ck_assert_uint_eq(o.rate, 5000);
	ck_assert_uint_eq(o.ring, 65536);
	options_finish(&o);
}
END_TEST

START_TEST(test_flag_beats_environment)
{
	char *env_only[] = {"sigstreamd", NULL};
	char *with_flag[] = {"sigstreamd", "--threads", "3", NULL};
	struct options o;
	char err[256];

	setenv("SIGSTREAM_THREADS", "5", 1);
	ck_assert_int_eq(parse(&o, env_only, err, sizeof(err)), OPTIONS_RUN);
	ck_assert_uint_eq(o.threads, 5);
	options_finish(&o);
	ck_assert_int_eq(parse(&o, with_flag, err, sizeof(err)), OPTIONS_RUN);
	ck_assert_uint_eq(o.threads, 3);
	options_finish(&o);
	unsetenv("SIGSTREAM_THREADS");
}
END_TEST

START_TEST(test_bad_value_names_its_source)
{
	char *flag[] = {"sigstreamd", "--threads", "65", NULL};
	char *env_only[] = {"sigstreamd", NULL};
	struct options o;
	char err[256];

	ck_assert_int_eq(parse(&o, flag, err, sizeof(err)), OPTIONS_USAGE);
	ck_assert_msg(strstr(err, "--threads") != NULL && strstr(err, "64") != NULL, "%s", err);
	setenv("SIGSTREAM_THREADS", "0", 1);
	ck_assert_int_eq(parse(&o, env_only, err, sizeof(err)), OPTIONS_USAGE);
	ck_assert_msg(strstr(err, "SIGSTREAM_THREADS") != NULL, "%s", err);
	unsetenv("SIGSTREAM_THREADS");
}
END_TEST

Suite *options_suite(void);
Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("options");

	tcase_add_test(tc, test_default_threads);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_flag_beats_environment);
	tcase_add_test(tc, test_bad_value_names_its_source);
	suite_add_tcase(s, tc);
	return s;
}
