/* test_report.c -- reports read back: the JSON parses and holds what the
 * results hold, the CSV files have one row per item, the terminal table
 * lists every policy. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "testutil.h"
#include "splitee/splitee.h"

static splitee_result *res;
static int nres = 2;
static splitee_replay_config rc;

static void setup(void)
{
    splitee_table *t;
    splitee_error e;
    cr_assert_eq(splitee_table_load_npy("fixtures/ref-logits.npy", "fixtures/ref-labels.npy",
                                        SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &e), 0, "%s", e.msg);
    splitee_replay *rp;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e), 0);
    splitee_setting set[2];
    splitee_setting_default(&set[0]);
    splitee_setting_default(&set[1]);
    set[1].reward.offload = 0.5;
    splitee_policy_config pols[3];
    const char *names[3] = { "splitee", "fixed:2", "final" };
    for (int i = 0; i < 3; i++) {
        splitee_policy_config_default(&pols[i]);
        cr_assert_eq(splitee_policy_parse(names[i], &pols[i]), 0);
    }
    splitee_replay_config_default(&rc);
    rc.repetitions = 3;
    rc.checkpoints = 50;
    rc.trace = 1;
    cr_assert_eq(splitee_replay_run(rp, set, 2, pols, 3, &rc, &res, &e), 0, "%s", e.msg);
    splitee_replay_free(rp);
    splitee_table_free(t);
}

static void teardown(void)
{
    splitee_results_free(res, nres);
}

/* Renders with `w` into a malloc'd string. */
static char *render(int which)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    splitee_report_meta meta = { "fixtures/ref-logits.npy", "fixtures/ref-labels.npy",
                                 SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rc, SPLITEE_SIDE_INFO_HONEST,
                                 "splitee replay --test" };
    int st = which == 0 ? splitee_report_json(m, res, nres, &meta)
           : which == 1 ? splitee_report_csv(m, res, nres)
           : which == 2 ? splitee_report_curves(m, res, nres)
           : which == 3 ? splitee_report_trace(m, res)
                        : splitee_report_table(m, res, nres);
    fclose(m);
    cr_assert_eq(st, 0);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(report, json_holds_settings_and_metrics, .init = setup, .fini = teardown)
{
    char *text = render(0);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "JSON parses");
    const cJSON *meta = cJSON_GetObjectItem(j, "meta");
    cr_assert_eq(cJSON_GetObjectItem(meta, "repetitions")->valuedouble, 3);
    cr_assert_str_eq(cJSON_GetObjectItem(meta, "confidence")->valuestring, "max-softmax");
    const cJSON *sets = cJSON_GetObjectItem(j, "settings");
    cr_assert_eq(cJSON_GetArraySize(sets), 2);
    const cJSON *s1 = cJSON_GetArrayItem(sets, 1);
    cr_assert_float_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(s1, "parameters"), "offload")->valuedouble,
                       0.5, 1e-15);
    cr_assert_eq(cJSON_GetObjectItem(s1, "best_layer")->valuedouble, res[1].best_arm + 1);
    const cJSON *pols = cJSON_GetObjectItem(s1, "policies");
    cr_assert_eq(cJSON_GetArraySize(pols), 3);
    const cJSON *p0 = cJSON_GetArrayItem(pols, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(p0, "policy")->valuestring, "splitee");
    const cJSON *acc = cJSON_GetObjectItem(p0, "accuracy");
    cr_assert_float_eq(cJSON_GetObjectItem(acc, "mean")->valuedouble,
                       res[1].policies[0].accuracy.mean, 1e-12);
    cr_assert_float_eq(cJSON_GetObjectItem(acc, "hi")->valuedouble,
                       res[1].policies[0].accuracy.hi, 1e-12);
    const cJSON *plays = cJSON_GetObjectItem(p0, "layer_plays");
    cr_assert_eq(cJSON_GetArraySize(plays), 12);
    double total = cJSON_GetObjectItem(cJSON_GetObjectItem(p0, "exit_histogram"), "offloaded")->valuedouble;
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(cJSON_GetObjectItem(p0, "exit_histogram"), "device_exit"))
        total += x->valuedouble;
    cr_assert_float_eq(total, 400, 1e-9, "every sample ends somewhere");
    cJSON_Delete(j);
    free(text);
}

Test(report, csv_has_a_row_per_setting_and_policy, .init = setup, .fini = teardown)
{
    char *text = render(1);
    cr_assert_eq(count_lines(text), 1 + 2 * 3);
    cr_assert(strncmp(text, "alpha,lambda,mu,offload,beta,policy,accuracy,accuracy_lo,accuracy_hi", 66) == 0);
    cr_assert(strstr(text, ",fixed:2,"));
    free(text);
}

Test(report, curves_have_a_row_per_checkpoint, .init = setup, .fini = teardown)
{
    char *text = render(2);
    cr_assert_eq(count_lines(text), 1 + 2 * 3 * 50);
    free(text);
}

Test(report, trace_has_a_row_per_round_and_policy, .init = setup, .fini = teardown)
{
    char *text = render(3);
    cr_assert_eq(count_lines(text), 1 + 3 * 400);
    cr_assert(strstr(text, "\nfinal,1,"));
    free(text);
}

Test(report, table_lists_every_policy_with_layers_one_based, .init = setup, .fini = teardown)
{
    char *text = render(4);
    cr_assert(strstr(text, "splitee "));
    cr_assert(strstr(text, "fixed:2 "));
    cr_assert(strstr(text, "final "));
    cr_assert(strstr(text, "offload 0.5"));
    /* final's learned layer is 12, shown 1-based */
    cr_assert(strstr(text, "12 (100%)"), "%s", text);
    free(text);
}

Test(report, trace_without_one_is_an_error)
{
    splitee_result r;
    memset(&r, 0, sizeof r);
    splitee_policy_result p;
    memset(&p, 0, sizeof p);
    r.policies = &p;
    r.npolicies = 1;
    cr_assert_eq(splitee_report_trace(stdout, &r), SPLITEE_ERR_ARG);
}
