/* live_fixtures.c -- what the cloud and device tests share (live_fixtures.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_fixtures.h"

const char *model_dir(void)
{
    const char *e = getenv("SPLITEE_TEST_MODEL");
    return e && *e ? e : "../data/model";
}

static void log_line(void *ctx, const char *line)
{
    fixture *f = ctx;
    pthread_mutex_lock(&f->lock);
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof f->log - n, "%s\n", line);
    pthread_mutex_unlock(&f->lock);
}

static void *serve(void *arg)
{
    fixture *f = arg;
    splitee_cloud_run(f->c, NULL);
    return NULL;
}

void start(fixture *f)
{
    start_with(f, NULL);
}

void start_with(fixture *f, const splitee_cloud_config *given)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    splitee_error err;
    cr_assert_eq(splitee_model_load(model_dir(), &f->m, &err), 0, "%s", err.msg);
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    if (given)
        cc = *given;
    cc.log = log_line;
    cc.log_ctx = f;
    cr_assert_eq(splitee_cloud_create(f->m, &cc, &f->c, &err), 0, "%s", err.msg);
    cr_assert_gt(splitee_cloud_port(f->c), 0);
    pthread_create(&f->th, NULL, serve, f);
}

void stop(fixture *f)
{
    splitee_cloud_stop(f->c);
    pthread_join(f->th, NULL);
    splitee_cloud_free(f->c);
    splitee_model_free(f->m);
}

/* A test image: a smooth pattern in [0, 1]. */
void image(float *px, int k)
{
    for (int i = 0; i < 28 * 28; i++)
        px[i] = (float)(0.5 + 0.5 * sin(0.05 * (i + 1) * (k + 1)));
}
