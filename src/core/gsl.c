/* gsl.c -- splitee's glue to GSL: GSL's default error handler aborts the
 * process, which a library must never do on bad input or a failed
 * allocation (DESIGN: "never abort"). Every splitee path that calls GSL goes
 * through splitee__gsl_init() first (splitee__rng_alloc and the statistics
 * do), which turns the aborting default off, once, unless the program has
 * installed a handler of its own: GSL functions then return their error
 * codes (or NULL, NaN), which splitee checks and reports. */
#include <pthread.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

#include "core/internal.h"

static pthread_once_t gsl_once = PTHREAD_ONCE_INIT;

static void quiet_default_handler(void)
{
    gsl_error_handler_t *prev = gsl_set_error_handler_off();
    if (prev)   /* the program's own handler: keep it */
        gsl_set_error_handler(prev);
}

void splitee__gsl_init(void)
{
    pthread_once(&gsl_once, quiet_default_handler);
}

gsl_rng *splitee__rng_alloc(uint64_t seed)
{
    splitee__gsl_init();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r)
        gsl_rng_set(r, (unsigned long)seed);
    return r;
}
