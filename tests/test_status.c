/* test_status.c -- status strings, error formatting, atomic writes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>
#include <gsl/gsl_sf_log.h>
#include <gsl/gsl_errno.h>

#include "core/internal.h"
#include "testutil.h"
#include "splitee/file.h"
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

/* ---- outputs that are not plain files (issue 8's defects) ------------- */

/* A character device made in the scratch folder (never the real /dev):
 * mknod needs root; NULL when it cannot be made (the test is skipped). */
static const char *make_node(const char *name, unsigned maj, unsigned min)
{
    const char *p = tu_path(name);
    if (mknod(p, S_IFCHR | 0666, makedev(maj, min)) != 0)
        return NULL;
    return p;
}

Test(status, write_follows_a_symlink_and_keeps_it)
{
    const char *target = tu_write_str("real.json", "old");
    const char *link = tu_path("link.json");
    cr_assert_eq(symlink(target, link), 0);
    splitee_error e;
    cr_assert_eq(splitee__write_file_atomic(link, "new", 3, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link was replaced by a file");
    size_t n;
    char *s = tu_read(target, &n);
    cr_assert_str_eq(s, "new");
    free(s);
    const char *dangling = tu_path("dangling.json");
    cr_assert_eq(symlink(tu_path("nowhere/x.json"), dangling), 0);
    cr_assert_eq(splitee__write_file_atomic(dangling, "x", 1, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, dangling) == e.msg, "%s", e.msg);
    cr_assert_eq(splitee__output_check(dangling, &e), SPLITEE_ERR_IO);
}

Test(status, replaced_file_keeps_its_mode)
{
    const char *p = tu_write_str("mode.txt", "a");
    cr_assert_eq(chmod(p, 0640), 0);
    splitee_error e;
    cr_assert_eq(splitee__write_file_atomic(p, "b", 1, &e), 0);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640);
}

Test(status, devices_are_written_in_place_and_full_fails)
{
    const char *null = make_node("null", 1, 3), *full = make_node("full", 1, 7);
    if (!null || !full)
        cr_skip_test("mknod not permitted here (not root)");
    splitee_error e;
    cr_assert_eq(splitee__output_check(null, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee__write_file_atomic(null, "data", 4, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert_eq(lstat(null, &st), 0);
    cr_assert(S_ISCHR(st.st_mode), "the device node was replaced");
    cr_assert_eq(splitee__write_file_atomic(full, "data", 4, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, full) == e.msg && strstr(e.msg, "No space left"), "%s", e.msg);
    cr_assert_eq(lstat(full, &st), 0);
    cr_assert(S_ISCHR(st.st_mode));
}

static void *drain(void *arg)
{
    int fd = open(arg, O_RDONLY);
    static size_t got;
    char buf[256];
    ssize_t k;
    while (fd >= 0 && (k = read(fd, buf, sizeof buf)) > 0)
        got += (size_t)k;
    if (fd >= 0)
        close(fd);
    return &got;
}

Test(status, fifo_is_written_in_place)
{
    const char *p = tu_path("out.fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    pthread_t th;
    pthread_create(&th, NULL, drain, (void *)p);
    splitee_error e;
    cr_assert_eq(splitee__write_file_atomic(p, "0123456789", 10, &e), 0, "%s", e.msg);
    void *got;
    pthread_join(th, &got);
    cr_assert_eq(*(size_t *)got, 10);
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode));
}

Test(status, folders_are_refused_and_checked_before_work)
{
    splitee_error e;
    const char *dir = tu_path("adir");
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(splitee__output_check(dir, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, "it is a folder"), "%s", e.msg);
    cr_assert_eq(splitee__write_file_atomic(dir, "x", 1, &e), SPLITEE_ERR_IO);
    const char *missing = tu_path("missing/x.csv");
    cr_assert_eq(splitee__output_check(missing, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, missing) == e.msg && strstr(e.msg, "does not exist"), "%s", e.msg);
    cr_assert(!tu_exists(missing));
    cr_assert_eq(splitee__output_check(tu_path("fresh.json"), &e), 0, "%s", e.msg);
    cr_assert(!tu_exists(tu_path("fresh.json")), "a check creates nothing");
    cr_assert_eq(splitee__output_check("relative-in-cwd.json", &e), 0, "%s", e.msg);
}

Test(status, readers_refuse_devices_and_bound_pipes)
{
    char *text;
    size_t len;
    splitee_error e;
    const char *zero = make_node("zero", 1, 5);
    if (zero) {
        cr_assert_eq(splitee__read_file(zero, 0, &text, &len, &e), SPLITEE_ERR_IO);
        cr_assert(strstr(e.msg, "not a regular file or a pipe"), "%s", e.msg);
        cr_assert_null(text);
    }
    cr_assert_eq(splitee__read_file(tu_tmpdir(), 0, &text, &len, &e), SPLITEE_ERR_IO);
    const char *p = tu_path("in.fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    pid_t pid = fork();
    if (pid == 0) {   /* writer: 100 bytes */
        int fd = open(p, O_WRONLY);
        char buf[100];
        memset(buf, 'x', sizeof buf);
        _exit(fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t)sizeof buf ? 0 : 1);
    }
    cr_assert_eq(splitee__read_file(p, 64, &text, &len, &e), SPLITEE_ERR_FORMAT);
    cr_assert(strstr(e.msg, "larger than 64 bytes"), "%s", e.msg);
    int status;
    waitpid(pid, &status, 0);
}

/* A run's outputs are written all or none (file.h): a failing later output
 * leaves an earlier one as it was, and no temporary behind. */
Test(status, write_all_is_all_or_nothing)
{
    const char *a = tu_write_str("all-a.json", "old a");
    const char *missing = tu_path("nowhere/b.csv");
    splitee_error e;
    splitee_output outs[2] = { { a, "new a", 5 }, { missing, "b", 1 } };
    cr_assert_eq(splitee_file_write_all(outs, 2, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, missing) == e.msg, "%s", e.msg);
    size_t n;
    char *s = tu_read(a, &n);
    cr_assert_str_eq(s, "old a");
    free(s);
    const char *full = make_node("all-full", 1, 7);
    if (full) {
        outs[1].path = full;
        cr_assert_eq(splitee_file_write_all(outs, 2, &e), SPLITEE_ERR_IO);
        s = tu_read(a, &n);
        cr_assert_str_eq(s, "old a");
        free(s);
    }
    DIR *d = opendir(tu_tmpdir());
    struct dirent *de;
    while ((de = readdir(d)))
        cr_assert_null(strstr(de->d_name, ".tmp"), "left behind: %s", de->d_name);
    closedir(d);
    const char *b = tu_path("all-b.csv");
    outs[1].path = b;
    cr_assert_eq(splitee_file_write_all(outs, 2, &e), 0, "%s", e.msg);
    s = tu_read(a, &n);
    cr_assert_str_eq(s, "new a");
    free(s);
    cr_assert(tu_exists(b));
    cr_assert_eq(splitee_file_write_all(outs, 0, &e), 0);
}
