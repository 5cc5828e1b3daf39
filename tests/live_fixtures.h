/* live_fixtures.h -- a cloud served from a thread of the test process, on
 * an ephemeral loopback port, with the shipped model (../data/model;
 * SPLITEE_TEST_MODEL overrides), and a test image; shared by test_cloud.c
 * and test_device.c. */
#ifndef SPLITEE_LIVE_FIXTURES_H
#define SPLITEE_LIVE_FIXTURES_H

#include <pthread.h>
#include "splitee/splitee.h"

typedef struct fixture {
    splitee_model *m;
    splitee_cloud *c;
    pthread_t th;
    pthread_mutex_t lock;
    char log[8192];       /* the cloud's log lines, one per line */
} fixture;

/* The model folder the tests load. */
const char *model_dir(void);

/* Loads the model and starts a cloud on it (port: splitee_cloud_port(f->c));
 * asserts on failure. */
void start(fixture *f);

/* start with the cloud configured as `cc` (its log is the fixture's). */
void start_with(fixture *f, const splitee_cloud_config *cc);

/* Stops the cloud, joins its thread and frees everything. */
void stop(fixture *f);

/* Test image k: a smooth pattern in [0, 1], 28 x 28 floats into px. */
void image(float *px, int k);

#endif
