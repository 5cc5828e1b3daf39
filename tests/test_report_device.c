/* test_report_device.c -- the live device's outputs (report.h,
 * report_device.c) read back: a per-round record is one line of JSON that
 * cJSON parses into exactly the round's values (numbers bit for bit,
 * strings that need escaping, NaN as null, the link fields only with a
 * link), the JSON summary holds the summary, the text summary says what
 * `splitee device` prints, and write errors are reported. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "splitee/splitee.h"

static const char *const KEYS[] = {
    "round", "sample", "layer", "outcome", "exit", "prediction", "label", "correct", "conf",
    "conf_final", "cost", "reward", "offload_cost", "bytes", "device_us", "rtt_us", "cloud_us",
    "link_s", "controller_ns", "reconnects", "note"
};
#define NKEYS (sizeof KEYS / sizeof *KEYS)

/* A round whose numbers need 17 digits, with a nasty note. */
static splitee_round nasty_round(void)
{
    splitee_round r;
    memset(&r, 0, sizeof r);
    r.index = 41;
    r.arm = 2;
    r.exit = 11;
    r.prediction = 3;
    r.label = 5;
    r.outcome = SPLITEE_ROUND_OUTCOME_OFFLOADED;
    r.conf_arm = 0.1 + 0.2;             /* 0.30000000000000004 */
    r.conf_final = NAN;
    r.cost = 1e-300 / 3;
    r.reward = -0.0;
    r.offload_cost = 2.0 / 3.0;
    r.payload_bytes = 4144;
    r.device_us = 363.24;
    r.rtt_us = 1234.56;
    r.cloud_us = 87.25;
    r.link_s = 0.3158951111111111;
    r.controller_ns = 2414.4;
    r.reconnects = 1;
    snprintf(r.note, sizeof r.note, "cloud said \"no\\way\"\n\tline 2 \x01 caf\xc3\xa9 /");
    return r;
}

/* Writes records through `l` into memory: one per call of `add`. */
static char *record(splitee_report_device_log *l, const splitee_round *r, long sample,
                    const splitee_transfer *tr)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(splitee_report_device_log_write(l, f, r, sample, tr), 0);
    fclose(f);
    cr_assert_gt(len, 2);
    cr_assert_eq(buf[len - 1], '\n', "a record ends with one newline");
    cr_assert_null(memchr(buf, '\n', len - 1), "a record is one line: %s", buf);
    return buf;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

static void is_null(const cJSON *o, const char *key)
{
    cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key)), "%s is not null", key);
}

Test(report_device, record_parses_back_to_the_round_exactly)
{
    splitee_report_device_log *l;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_report_device_log_create(&l, &err), 0, "%s", err.msg);
    splitee_round r = nasty_round();
    char *text = record(l, &r, 1041, NULL);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "not JSON: %s", text);
    /* the keys, in order, and nothing else */
    size_t k = 0;
    for (const cJSON *c = j->child; c; c = c->next, k++) {
        cr_assert_lt(k, NKEYS, "extra key %s", c->string);
        cr_assert_str_eq(c->string, KEYS[k]);
    }
    cr_assert_eq(k, NKEYS);
    cr_assert_eq(num(j, "round"), 41);
    cr_assert_eq(num(j, "sample"), 1041);
    cr_assert_eq(num(j, "layer"), 3);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "outcome")->valuestring, "offloaded");
    cr_assert_eq(num(j, "exit"), 12);
    cr_assert_eq(num(j, "prediction"), 3);
    cr_assert_eq(num(j, "label"), 5);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "correct")));
    cr_assert_eq(num(j, "conf"), 0.1 + 0.2, "conf did not round-trip: %s", text);
    is_null(j, "conf_final");
    cr_assert_eq(num(j, "cost"), 1e-300 / 3);
    cr_assert_eq(num(j, "reward"), 0.0);
    cr_assert_eq(num(j, "offload_cost"), 2.0 / 3.0);
    cr_assert_eq(num(j, "bytes"), 4144);
    cr_assert_eq(num(j, "device_us"), 363.2);   /* measured times: 0.1 us */
    cr_assert_eq(num(j, "rtt_us"), 1234.6);
    cr_assert_eq(num(j, "cloud_us"), 87.3);
    cr_assert_eq(num(j, "link_s"), 0.3158951111111111);
    cr_assert_eq(num(j, "controller_ns"), 2414);   /* 1 ns */
    cr_assert_eq(num(j, "reconnects"), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "note")->valuestring, r.note);
    cJSON_Delete(j);
    free(text);
    splitee_report_device_log_free(l);
}

Test(report_device, unlabelled_round_has_null_label_and_correct)
{
    splitee_report_device_log *l;
    cr_assert_eq(splitee_report_device_log_create(&l, NULL), 0);
    splitee_round r = nasty_round();
    r.label = -1;
    r.cost = INFINITY;
    r.reward = -NAN;
    r.outcome = SPLITEE_ROUND_OUTCOME_FALLBACK;
    r.note[0] = '\0';
    char *text = record(l, &r, 0, NULL);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "not JSON: %s", text);
    is_null(j, "label");
    is_null(j, "correct");
    is_null(j, "cost");
    is_null(j, "reward");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "outcome")->valuestring, "fallback");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "note")->valuestring, "");
    cJSON_Delete(j);
    free(text);
    splitee_report_device_log_free(l);
}

Test(report_device, link_fields_come_and_go_with_the_transfer)
{
    splitee_report_device_log *l;
    cr_assert_eq(splitee_report_device_log_create(&l, NULL), 0);
    splitee_round r = nasty_round();
    r.label = 3;
    splitee_transfer tr;
    memset(&tr, 0, sizeof tr);
    tr.latency_ms = 315.89511111111113;
    tr.energy_mJ = 389.67173205333336;
    tr.losses = 2;
    for (int pass = 0; pass < 2; pass++) {
        char *text = record(l, &r, 7, &tr);
        cJSON *j = cJSON_Parse(text);
        cr_assert_not_null(j, "not JSON: %s", text);
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "correct")));
        cr_assert_eq(num(j, "link_ms"), tr.latency_ms);
        cr_assert_eq(num(j, "energy_mJ"), tr.energy_mJ);
        cr_assert_eq(num(j, "losses"), tr.losses);
        const cJSON *last = j->child;
        while (last->next)
            last = last->next;
        cr_assert_str_eq(last->string, "losses", "the link fields come last");
        cJSON_Delete(j);
        free(text);
        text = record(l, &r, 8, NULL);   /* no transfer this round: no link fields */
        j = cJSON_Parse(text);
        cr_assert_not_null(j);
        cr_assert_null(cJSON_GetObjectItem(j, "link_ms"), "%s", text);
        cr_assert_null(cJSON_GetObjectItem(j, "losses"));
        cJSON_Delete(j);
        free(text);
        tr.losses = 0;
    }
    splitee_report_device_log_free(l);   /* detached link fields are freed too */
}

Test(report_device, write_errors_are_reported)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        cr_skip_test("no /dev/full");
    setvbuf(f, NULL, _IONBF, 0);
    splitee_report_device_log *l;
    cr_assert_eq(splitee_report_device_log_create(&l, NULL), 0);
    splitee_round r = nasty_round();
    cr_assert_eq(splitee_report_device_log_write(l, f, &r, 0, NULL), SPLITEE_ERR_IO);
    splitee_device_summary s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(splitee_report_device_text(f, &s), SPLITEE_ERR_IO);
    splitee_report_device_log_free(l);
    fclose(f);
}

/* A summary of 3 layers with a 2-point curve. */
static splitee_device_summary summary(double *curve)
{
    splitee_device_summary s;
    memset(&s, 0, sizeof s);
    s.samples = 10;
    s.exited = 6;
    s.offloaded = 3;
    s.fallback = 1;
    s.labelled = 10;
    s.correct = 9;
    s.accuracy = 0.9;
    s.avg_cost = 0.1 + 0.2;
    s.avg_reward = 0.55;
    s.offload_rate = 0.4;
    s.arms = 3;
    s.arm_plays[0] = 2;
    s.arm_plays[1] = 7;
    s.arm_plays[2] = 1;
    s.learned_arm = 1;
    s.controller_ns_mean = 300.5;
    s.controller_ns_p50 = 150;
    s.controller_ns_max = 2414;
    s.device_us_mean = 344.75;
    s.rtt_us_mean = 1500.25;
    s.cloud_us_mean = 80.5;
    s.has_regret = 1;
    s.best_arm = 2;
    s.pseudo_regret = 1.25;
    s.realized_regret = -0.5;
    s.checkpoints = 2;
    double c[10] = { 5, 0.8, 0.3, 0.5, NAN, 10, 0.9, 0.30000000000000004, 1.25, -0.5 };
    memcpy(curve, c, sizeof c);
    s.curve = curve;
    return s;
}

static cJSON *summary_doc(const splitee_device_summary *s, const char *command, const char *link)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    splitee_reward rw;
    cr_assert_eq(splitee_reward_init(&rw, &rc, 3, NULL), 0);
    splitee_report_device_meta meta = { command, "2026-01-02T03:04:05Z", &pc, "f16", link, &rw };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(splitee_report_device_json(f, s, &meta), 0);
    fclose(f);
    cr_assert_eq(buf[len - 1], '\n');
    cJSON *j = cJSON_Parse(buf);
    cr_assert_not_null(j, "not JSON: %s", buf);
    free(buf);
    return j;
}

Test(report_device, summary_json_holds_the_summary)
{
    double curve[10];
    splitee_device_summary s = summary(curve);
    cJSON *j = summary_doc(&s, "splitee device --cloud \"x\"", "data/links/lte.json");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "tool")->valuestring, "splitee device");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "version")->valuestring, SPLITEE_VERSION);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "command")->valuestring, "splitee device --cloud \"x\"");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "date")->valuestring, "2026-01-02T03:04:05Z");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "policy")->valuestring, "splitee");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "encoding")->valuestring, "f16");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "link")->valuestring, "data/links/lte.json");
    const cJSON *rw = cJSON_GetObjectItem(j, "reward");
    cr_assert_eq(num(rw, "alpha"), 0.8);
    const cJSON *g = cJSON_GetObjectItem(rw, "gamma");
    cr_assert_eq(cJSON_GetArraySize(g), 3);
    cr_assert_eq(cJSON_GetArrayItem(g, 2)->valuedouble, 0.1 * 3, "gamma_3 did not round-trip");
    const cJSON *c = cJSON_GetObjectItem(j, "counts");
    cr_assert_eq(num(c, "samples"), 10);
    cr_assert_eq(num(c, "exited") + num(c, "offloaded") + num(c, "fallback"), 10);
    cr_assert_eq(num(j, "accuracy"), 0.9);
    cr_assert_eq(num(j, "avg_cost"), 0.1 + 0.2);
    cr_assert_eq(num(j, "learned_layer"), 2);
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "layer_plays"), 1)->valuedouble, 7);
    cr_assert_eq(num(cJSON_GetObjectItem(j, "timing"), "device_us_mean"), 344.75);
    const cJSON *r = cJSON_GetObjectItem(j, "regret");
    cr_assert_eq(num(r, "best_layer"), 3);
    cr_assert_eq(num(r, "realized"), -0.5);
    const cJSON *cv = cJSON_GetObjectItem(j, "curves");
    const char *names[5] = { "round", "accuracy", "cost", "pseudo_regret", "realized_regret" };
    for (int k = 0; k < 5; k++) {
        const cJSON *a = cJSON_GetObjectItem(cv, names[k]);
        cr_assert_eq(cJSON_GetArraySize(a), 2, "%s", names[k]);
        for (int i = 0; i < 2; i++) {
            const cJSON *v = cJSON_GetArrayItem(a, i);
            if (isnan(curve[i * 5 + k]))
                cr_assert(cJSON_IsNull(v), "%s[%d]", names[k], i);
            else
                cr_assert_eq(v->valuedouble, curve[i * 5 + k], "%s[%d]", names[k], i);
        }
    }
    cJSON_Delete(j);
}

Test(report_device, summary_json_without_labels_eval_or_link_has_nulls)
{
    double curve[10];
    splitee_device_summary s = summary(curve);
    s.accuracy = NAN;
    s.rtt_us_mean = NAN;
    s.has_regret = 0;
    cJSON *j = summary_doc(&s, NULL, NULL);
    is_null(j, "command");
    is_null(j, "link");
    is_null(j, "accuracy");
    is_null(j, "regret");
    is_null(cJSON_GetObjectItem(j, "timing"), "rtt_us_mean");
    cJSON_Delete(j);
}

Test(report_device, summary_json_refuses_missing_meta)
{
    double curve[10];
    splitee_device_summary s = summary(curve);
    splitee_report_device_meta meta = { NULL, NULL, NULL, "f32", NULL, NULL };
    cr_assert_eq(splitee_report_device_json(stdout, &s, &meta), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_report_device_json(stdout, &s, NULL), SPLITEE_ERR_ARG);
}

Test(report_device, text_summary_is_what_the_device_prints)
{
    double curve[10];
    splitee_device_summary s = summary(curve);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(splitee_report_device_text(f, &s), 0);
    fclose(f);
    cr_assert_str_eq(buf, "samples 10: exited 6, offloaded 3, fallback 1\n"
                          "accuracy 0.9000 (9/10)\n"
                          "average cost 0.3000, average reward 0.5500, offload rate 40.0%\n"
                          "learned layer 2; plays per layer: 2 7 1\n"
                          "regret vs best fixed layer 3: pseudo 1.250, realized -0.500\n"
                          "controller 300 ns/round (median 150, max 2414); device engine 344.8 us/sample; "
                          "offload round trip 1500.2 us (cloud compute 80.5 us)\n");
    free(buf);
    s.accuracy = NAN;
    s.has_regret = 0;
    s.rtt_us_mean = NAN;
    f = open_memstream(&buf, &len);
    cr_assert_eq(splitee_report_device_text(f, &s), 0);
    fclose(f);
    cr_assert_null(strstr(buf, "accuracy"), "%s", buf);
    cr_assert_null(strstr(buf, "regret"), "%s", buf);
    cr_assert_null(strstr(buf, "round trip"), "%s", buf);
    free(buf);
}
