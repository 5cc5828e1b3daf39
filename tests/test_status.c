/* test_status.c -- status strings, error formatting, atomic writes. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <gsl/gsl_sf_log.h>
#include <gsl/gsl_errno.h>

#include "core/internal.h"
#include "testutil.h"
#include "splitee/status.h"

Test(status, every_code_has_a_message)
{
    for (int s = 0; s >= SPLITEE_ERR_UNSUPPORTED; s--)
        cr_assert(strcmp(splitee_strerror(s), "unknown error") != 0, "code %d", s);
    cr_assert_str_eq(splitee_strerror(-999), "unknown error");
}

Test(status, fail_formats_one_line_and_returns_status)
{
    splitee_error e;
    int st = splitee__fail(&e, SPLITEE_ERR_FORMAT, "%s: bad\nthing %d", "f.npy", 3);
    cr_assert_eq(st, SPLITEE_ERR_FORMAT);
    cr_assert_eq(e.status, SPLITEE_ERR_FORMAT);
    cr_assert_str_eq(e.msg, "f.npy: bad thing 3");
    cr_assert_eq(splitee__fail(NULL, SPLITEE_ERR_IO, "x"), SPLITEE_ERR_IO);
}

Test(status, mul_size_detects_overflow)
{
    size_t out;
    cr_assert_eq(splitee__mul_size(3, 4, &out), 0);
    cr_assert_eq(out, 12);
    cr_assert_eq(splitee__mul_size((size_t)-1 / 2 + 1, 2, &out), -1);
    cr_assert_eq(splitee__mul_size(0, (size_t)-1, &out), 0);
}

Test(status, atomic_write_replaces_whole_file)
{
    const char *p = tu_path("atomic.txt");
    splitee_error e;
    cr_assert_eq(splitee__write_file_atomic(p, "hello", 5, &e), 0);
    size_t n;
    char *s = tu_read(p, &n);
    cr_assert_str_eq(s, "hello");
    free(s);
}

Test(status, atomic_write_into_missing_folder_fails_cleanly)
{
    const char *p = tu_path("no/such/dir/x.txt");
    splitee_error e;
    cr_assert_eq(splitee__write_file_atomic(p, "x", 1, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, p) != NULL, "%s", e.msg);
    cr_assert(!tu_exists(p));
}

/* GSL's default error handler aborts: after splitee__gsl_init a GSL domain
 * error comes back as a value (NaN here) and the process goes on. */
Test(status, gsl_errors_do_not_abort)
{
    splitee__gsl_init();
    double x = gsl_sf_log(-1.0);   /* domain error: GSL_EDOM */
    cr_assert(isnan(x), "%g", x);
    gsl_rng *r = splitee__rng_alloc(7);
    cr_assert_not_null(r);
    gsl_rng *ref = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(ref, 7);
    cr_assert_eq(gsl_rng_get(r), gsl_rng_get(ref));
    gsl_rng_free(r);
    gsl_rng_free(ref);
}

static int handler_calls;
static void count_handler(const char *reason, const char *file, int line, int gsl_errno)
{
    (void)reason, (void)file, (void)line, (void)gsl_errno;
    handler_calls++;
}

/* A handler the program installed itself is left in place. */
Test(status, gsl_handler_of_the_program_is_kept)
{
    gsl_set_error_handler(count_handler);
    splitee__gsl_init();
    gsl_sf_log(-1.0);
    cr_assert_gt(handler_calls, 0);
}
