/* status.h -- return codes and error messages shared by every splitee module.
 *
 * Every fallible splitee function returns 0 (SPLITEE_OK) or a negative
 * splitee_status, and, where it can say more, fills a caller-provided
 * splitee_error with a one-line message that names the file or object and the
 * problem. Library code never prints and never exits; only the CLI does.
 *
 *     splitee_error err;
 *     splitee_table *t;
 *     if (splitee_table_load_npy("x.npy", NULL, SPLITEE_LAYOUT_SAMPLES_FIRST,
 *                                &t, &err) < 0)
 *         fprintf(stderr, "splitee: %s\n", err.msg);   // "x.npy: truncated ..."
 */
#ifndef SPLITEE_STATUS_H
#define SPLITEE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum splitee_status {
    SPLITEE_OK = 0,
    SPLITEE_ERR_NOMEM = -1,    /* allocation failed */
    SPLITEE_ERR_IO = -2,       /* a file could not be opened, read or written */
    SPLITEE_ERR_FORMAT = -3,   /* malformed content: magic, header, syntax */
    SPLITEE_ERR_SHAPE = -4,    /* shapes missing, empty or in disagreement */
    SPLITEE_ERR_VALUE = -5,    /* NaN/Inf, out-of-range labels or parameters */
    SPLITEE_ERR_ARG = -6,      /* invalid argument or configuration */
    SPLITEE_ERR_OVERFLOW = -7, /* a size that does not fit in memory arithmetic */
    SPLITEE_ERR_UNSUPPORTED = -8 /* valid but unsupported (dtype, order, ...) */
} splitee_status;

/* Detailed error: a one-line, NUL-terminated message without trailing
 * newline, e.g. "data/x.npy: truncated data (expected 480000 bytes, got 12)". */
typedef struct splitee_error {
    int status;      /* the splitee_status that was returned */
    char msg[512];
} splitee_error;

/* Static English description of a status code ("out of memory", ...).
 * Never returns NULL; unknown codes give "unknown error". */
const char *splitee_strerror(int status);

#ifdef __cplusplus
}
#endif
#endif
