/* test_device.c -- Criterion tests for the device loop (device.h) against a
 * cloud in the same process on loopback (live_fixtures.h): a device's
 * counts add up with a cloud and without one (every offload a fallback),
 * and bad configurations are refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "live_fixtures.h"
#include "splitee/splitee.h"

static void run_device(const char *host, int port, int *counts, splitee_model *m)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = SPLITEE_POLICY_KIND_SPLITEE_S;
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    dc.host = host;
    dc.port = port;
    dc.rounds = 30;
    dc.eval = 1;
    dc.timeout_s = 20;   /* no fallback expected, even in a loaded sanitizer build */
    splitee_device *d;
    splitee_error err;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), 0, "%s", err.msg);
    float px[28 * 28];
    for (int k = 0; k < 30; k++) {
        image(px, k);
        splitee_round r;
        cr_assert_eq(splitee_device_step(d, px, k % 10, NULL, &r, &err), 0, "%s", err.msg);
        cr_assert_eq(r.index, k);
        if (r.outcome != SPLITEE_ROUND_OUTCOME_EXITED)
            cr_assert(isfinite(r.conf_final) && r.exit == 11);
    }
    splitee_round r;
    cr_assert_eq(splitee_device_step(d, px, 0, NULL, &r, &err), SPLITEE_ERR_ARG, "rounds is a capacity");
    splitee_device_summary s;
    splitee_device_summarize(d, &s);
    cr_assert_eq(s.samples, 30);
    cr_assert_eq(s.exited + s.offloaded + s.fallback, 30);
    long plays = 0;
    for (int a = 0; a < s.arms; a++)
        plays += s.arm_plays[a];
    cr_assert_eq(plays, 30);
    cr_assert(s.has_regret && isfinite(s.pseudo_regret) && s.pseudo_regret >= -1e-9);
    cr_assert_eq(s.curve[(size_t)(s.checkpoints - 1) * 5], 30.0);
    counts[0] = (int)s.exited;
    counts[1] = (int)s.offloaded;
    counts[2] = (int)s.fallback;
    splitee_device_free(d);
}

Test(device, counts_add_up_with_and_without_a_cloud)
{
    fixture fx;
    start(&fx);
    int with[3], without[3];
    run_device("127.0.0.1", splitee_cloud_port(fx.c), with, fx.m);
    cr_assert_gt(with[1], 0);
    cr_assert_eq(with[2], 0);
    run_device(NULL, 0, without, fx.m);
    cr_assert_eq(without[1], 0);
    cr_assert_gt(without[2], 0);
    stop(&fx);
}

Test(device, bad_config_is_refused)
{
    splitee_model *m;
    splitee_error err;
    cr_assert_eq(splitee_model_load(model_dir(), &m, &err), 0);
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    splitee_device *d;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), SPLITEE_ERR_ARG); /* rounds 0 */
    cr_assert_null(d);
    dc.rounds = 10;
    dc.timeout_s = 0;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), SPLITEE_ERR_VALUE);
    dc.timeout_s = 1;
    dc.host = "127.0.0.1";
    dc.port = 0;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), SPLITEE_ERR_ARG);
    splitee_device_free(NULL);
    splitee_cloud_free(NULL);
    splitee_model_free(m);
}
