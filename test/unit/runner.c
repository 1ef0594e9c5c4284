/*
 * Shared main() for the Check test executables: each one is built with
 * -DTEST_SUITE=<name>_suite and runs that suite, forking per test so that a
 * crash fails one test, not the run. CK_FORK=no (set by the sanitizer
 * setups' debuggers) is honoured by Check itself.
 */
#include <check.h>
#include <stdlib.h>

Suite *TEST_SUITE(void);

int main(void)
{
	SRunner *sr = srunner_create(TEST_SUITE());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
