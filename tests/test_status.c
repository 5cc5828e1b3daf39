/* test_status.c -- status strings, error formatting, atomic writes. */
#include <criterion/criterion.h>
#include <string.h>

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
