/* test_report.c -- reports read back: the JSON parses and holds what the
 * results hold, bit for bit; the CSV files have one row per item, in the
 * units their headers name; numbers are in their shortest round-trip form
 * (against a naive search over every precision); the terminal table lists
 * every policy; the figures come out one per setting, named by it, with a
 * fixed colour per policy, and errors name the user's output. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "testutil.h"
#include "core/numfmt.h"
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
    splitee_report_meta meta = { .logits_path = "fixtures/ref-logits.npy",
                                 .labels_path = "fixtures/ref-labels.npy",
                                 .confidence = SPLITEE_CONFIDENCE_MAX_SOFTMAX, .replay = &rc,
                                 .side_info = SPLITEE_SIDE_INFO_HONEST,
                                 .command_line = "splitee replay --test",
                                 .date = "2026-01-31T12:00:00Z",
                                 .link_path = "data/links/lte.json", .link_name = "lte" };
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
    /* shortest round-trip numbers read back to the same doubles */
    cr_assert_eq(cJSON_GetObjectItem(acc, "mean")->valuedouble, res[1].policies[0].accuracy.mean);
    cr_assert_eq(cJSON_GetObjectItem(acc, "hi")->valuedouble, res[1].policies[0].accuracy.hi);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(p0, "cost_reduction"), "lo")->valuedouble,
                 res[1].policies[0].cost_reduction.lo, "JSON keeps fractions");
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
    cr_assert(strstr(text, ",fixed:2,"));
    free(text);
}

/* Field k (0-based) of the CSV line starting at s, into buf. */
static void csv_field(const char *s, int k, char *buf, size_t len)
{
    for (; k > 0 && *s && *s != '\n'; s++)
        k -= *s == ',';
    size_t n = strcspn(s, ",\n");
    cr_assert_lt(n, len);
    memcpy(buf, s, n);
    buf[n] = '\0';
}

Test(report, csv_header_names_units_and_values_are_in_them, .init = setup, .fini = teardown)
{
    char *text = render(1);
    const char *want =
        "alpha,lambda,mu,offload,beta,policy,accuracy,accuracy_lo,accuracy_hi,cost,cost_lo,cost_hi,"
        "reward,reward_lo,reward_hi,offload_rate_pct,offload_rate_pct_lo,offload_rate_pct_hi,"
        "cost_reduction_pct,cost_reduction_pct_lo,cost_reduction_pct_hi,accuracy_change_pp,"
        "accuracy_change_pp_lo,accuracy_change_pp_hi,pseudo_regret,pseudo_regret_lo,"
        "pseudo_regret_hi,realized_regret,realized_regret_lo,realized_regret_hi,learned_layer,"
        "learned_share_pct\n";
    cr_assert(strncmp(text, want, strlen(want)) == 0, "%.*s", (int)strlen(want), text);
    /* row 4: setting 1 (o 0.5), policy 0 (splitee) */
    const char *row = text;
    for (int i = 0; i < 4; i++)
        row = strchr(row, '\n') + 1;
    const splitee_policy_result *pr = &res[1].policies[0];
    char f[64];
    csv_field(row, 3, f, sizeof f);
    cr_assert_str_eq(f, "0.5");
    csv_field(row, 1, f, sizeof f);
    cr_assert_str_eq(f, "0.1", "not 0.10000000000000001");
    csv_field(row, 6, f, sizeof f);
    cr_assert_eq(strtod(f, NULL), pr->accuracy.mean, "accuracy as a fraction, exactly");
    csv_field(row, 15, f, sizeof f);
    cr_assert_eq(strtod(f, NULL), 100 * pr->offload_rate.mean, "offload_rate_pct in %%");
    csv_field(row, 19, f, sizeof f);
    cr_assert_eq(strtod(f, NULL), 100 * pr->cost_reduction.lo, "cost_reduction_pct_lo in %%");
    csv_field(row, 23, f, sizeof f);
    cr_assert_eq(strtod(f, NULL), 100 * pr->accuracy_change.hi, "accuracy_change_pp_hi in points");
    csv_field(row, 31, f, sizeof f);
    cr_assert_eq(strtod(f, NULL), 100 * pr->learned_share);
    free(text);
}

Test(report, json_meta_has_version_date_numeric_seed_and_link, .init = setup, .fini = teardown)
{
    rc.seed = UINT64_MAX;   /* beyond a double's integers: the digits must be exact */
    char *text = render(0);
    cr_assert(strstr(text, "\"seed\":\t18446744073709551615,"), "%.400s", text);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j);
    const cJSON *meta = cJSON_GetObjectItem(j, "meta");
    cr_assert_str_eq(cJSON_GetObjectItem(meta, "version")->valuestring, SPLITEE_VERSION);
    cr_assert_str_eq(cJSON_GetObjectItem(meta, "date")->valuestring, "2026-01-31T12:00:00Z");
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(meta, "seed")));
    const cJSON *link = cJSON_GetObjectItem(meta, "link");
    cr_assert_str_eq(cJSON_GetObjectItem(link, "name")->valuestring, "lte");
    cr_assert_str_eq(cJSON_GetObjectItem(link, "profile")->valuestring, "data/links/lte.json");
    const cJSON *par = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "settings"), 0),
                                           "parameters");
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(par, "lambda")));
    cr_assert_null(cJSON_GetObjectItem(par, "layer_cost"), "no vector without one");
    cJSON_Delete(j);
    free(text);
}

Test(report, utc_date_is_iso_8601)
{
    char b[32];
    cr_assert_eq(splitee_report_utc_date(0, b, sizeof b), 0);
    cr_assert_str_eq(b, "1970-01-01T00:00:00Z");
    cr_assert_eq(splitee_report_utc_date(1700000000, b, sizeof b), 0);
    cr_assert_str_eq(b, "2023-11-14T22:13:20Z");
    cr_assert_eq(splitee_report_utc_date(0, b, 20), SPLITEE_ERR_ARG, "no room for the NUL");
}

/* A replay of the fixture with a per-layer cost vector instead of lambda. */
static splitee_result *run_layer_cost(const double *lc)
{
    splitee_table *t;
    splitee_error e;
    cr_assert_eq(splitee_table_load_npy("fixtures/ref-logits.npy", "fixtures/ref-labels.npy",
                                        SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &e), 0, "%s", e.msg);
    splitee_replay *rp;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e), 0);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.layer_cost = lc;
    splitee_policy_config pol;
    splitee_policy_config_default(&pol);
    splitee_replay_config c;
    splitee_replay_config_default(&c);
    c.repetitions = 2;
    c.checkpoints = 10;
    splitee_result *r;
    cr_assert_eq(splitee_replay_run(rp, &set, 1, &pol, 1, &c, &r, &e), 0, "%s", e.msg);
    splitee_replay_free(rp);
    splitee_table_free(t);
    return r;
}

Test(report, layer_cost_replaces_lambda_in_every_report)
{
    double lc[12];
    for (int i = 0; i < 12; i++)
        lc[i] = i < 2 ? 0.05 : 0.1;
    splitee_result *r = run_layer_cost(lc);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_eq(splitee_report_csv(m, r, 1), 0);
    fclose(m);
    cr_assert(strstr(buf, "\n0.8,,1,0.3,1,splitee,"), "lambda cell empty: %s", buf);
    free(buf);
    m = open_memstream(&buf, &len);
    cr_assert_eq(splitee_report_curves(m, r, 1), 0);
    fclose(m);
    cr_assert(strstr(buf, "\n0.8,,1,0.3,1,splitee,"), "curves too");
    free(buf);
    m = open_memstream(&buf, &len);
    cr_assert_eq(splitee_report_table(m, r, 1), 0);
    fclose(m);
    cr_assert(strstr(buf, "per-layer device costs") && !strstr(buf, "lambda"), "%s", buf);
    free(buf);
    m = open_memstream(&buf, &len);
    splitee_report_meta meta = { .logits_path = "x.npy" };
    cr_assert_eq(splitee_report_json(m, r, 1, &meta), 0);
    fclose(m);
    cJSON *j = cJSON_Parse(buf);
    const cJSON *par = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "settings"), 0),
                                           "parameters");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(par, "lambda")));
    const cJSON *v = cJSON_GetObjectItem(par, "layer_cost");
    cr_assert_eq(cJSON_GetArraySize(v), 12);
    cr_assert_eq(cJSON_GetArrayItem(v, 0)->valuedouble, 0.05);
    cr_assert_eq(cJSON_GetArrayItem(v, 11)->valuedouble, 0.1);
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "link"));
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "date"));
    cJSON_Delete(j);
    free(buf);
    splitee_results_free(r, 1);
}

/* The naive reference: the fewest significant digits (1..17) that read back
 * to x, printed at %.15g if that is fewer (the rule: the shortest of
 * %.15g/%.16g/%.17g that round-trips). */
static void naive_format(double x, char *buf, size_t len)
{
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, len, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    snprintf(buf, len, "%.*g", p < 15 ? 15 : p, x);
}

Test(report, numbers_are_shortest_round_trip)
{
    const double fixed[] = { 0.3, 0.1 + 0.2, 0.1 + 0.7, 1.0 / 3, 2.0 / 3, 1e-300, 5e-324, 1e300,
                             1.7976931348623157e308, 123456789012345678.0, 0, -0.0, 1, -2.5,
                             0.29999999999999999, 100 * 0.29, 45.1, 1e15, 1e16, 1e21 };
    char got[SPLITEE__NUM_LEN], want[64];
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        splitee__fmt_double(got, sizeof got, fixed[i]);
        naive_format(fixed[i], want, sizeof want);
        cr_assert_str_eq(got, want, "%.17g", fixed[i]);
        cr_assert_eq(strtod(got, NULL), fixed[i]);
    }
    cr_assert_str_eq(splitee__fmt_double(got, sizeof got, 0.3), "0.3");
    cr_assert_str_eq(splitee__fmt_double(got, sizeof got, 0.1 + 0.2), "0.30000000000000004");
    cr_assert_str_eq(splitee__fmt_double(got, sizeof got, NAN), "nan");
    cr_assert_str_eq(splitee__fmt_double(got, sizeof got, -INFINITY), "-inf");
    /* random bit patterns and random decimals of 1..17 digits */
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double x;
        if (i % 2) {
            memcpy(&x, &s, sizeof x);
            if (!isfinite(x))
                continue;
        } else {
            char dec[40];
            snprintf(dec, sizeof dec, "%.*g", 1 + (int)(s % 17), (double)(s >> 11) / 9007199254740992.0);
            x = strtod(dec, NULL);
        }
        splitee__fmt_double(got, sizeof got, x);
        naive_format(x, want, sizeof want);
        cr_assert_str_eq(got, want, "%a", x);
    }
}

Test(report, json_numbers_are_shortest_round_trip_not_cjsons)
{
    cJSON *o = cJSON_CreateObject();
    splitee__json_add_number(o, "a", 0.1 + 0.2);   /* cJSON would print 0.3 */
    splitee__json_add_number(o, "b", 1.0 / 3);     /* and 0.33333333333333331 */
    splitee__json_add_number(o, "c", NAN);
    char *t = cJSON_PrintUnformatted(o);
    cr_assert_str_eq(t, "{\"a\":0.30000000000000004,\"b\":0.3333333333333333,\"c\":null}");
    cJSON *back = cJSON_Parse(t);
    cr_assert_eq(cJSON_GetObjectItem(back, "a")->valuedouble, 0.1 + 0.2);
    cr_assert_eq(cJSON_GetObjectItem(back, "b")->valuedouble, 1.0 / 3);
    cJSON_Delete(back);
    cJSON_free(t);
    cJSON_Delete(o);
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

/* ------------------------------------------------------------- figures --- */

static void need_gnuplot(void)
{
    if (system("command -v gnuplot > /dev/null 2>&1") != 0)
        cr_skip_test("gnuplot is not installed");
}

/* Names in dir that contain `part`, counted. */
static int count_files(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

/* The stroke colour gnuplot's SVG gives the key line of `policy`, as
 * "#rrggbb" (the first path after the key text). */
static void key_colour(const char *svg, const char *policy, char out[8])
{
    char text[64];
    snprintf(text, sizeof text, "<text>%s</text>", policy);
    const char *p = strstr(svg, text);
    cr_assert_not_null(p, "%s is not in the key", policy);
    p = strstr(p, "stroke='rgb(");
    cr_assert_not_null(p);
    int r, g, b;
    cr_assert_eq(sscanf(p, "stroke='rgb(%d,%d,%d)", &r, &g, &b), 3);
    snprintf(out, 8, "#%02x%02x%02x", r, g, b);
}

Test(plot, a_sweep_draws_one_regret_figure_per_setting_named_by_it, .init = setup, .fini = teardown)
{
    need_gnuplot();
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/sweep", tu_tmpdir());
    splitee_error e;
    cr_assert_eq(splitee_plot_replay(prefix, res, nres, &e), 0, "%s", e.msg);
    const char *want[] = { "sweep-regret-o0.3.svg", "sweep-regret-o0.3.png", "sweep-regret-o0.5.svg",
                           "sweep-regret-o0.5.png", "sweep-sweep.svg", "sweep-sweep.png" };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(tu_exists(tu_path(want[i])), "%s", want[i]);
    cr_assert(!tu_exists(tu_path("sweep-regret.svg")), "one prefix, two settings: named apart");
    cr_assert_eq(count_files(tu_tmpdir(), ".tmp"), 0, "no temporaries left");
    /* the second setting's figure is that setting's: its title says so */
    char *svg = tu_read(tu_path("sweep-regret-o0.5.svg"), NULL);
    cr_assert(strstr(svg, "<text>α 0.8, λ 0.1, μ 1, o 0.5, β 1: mean and 95% CI over 3 repetitions</text>"));
    free(svg);
    /* the sweep's points are labelled with o */
    svg = tu_read(tu_path("sweep-sweep.svg"), NULL);
    cr_assert(strstr(svg, "each point labelled with its o"));
    cr_assert(strstr(svg, "<text>0.3</text>") || strstr(svg, "<text>0.5</text>"), "labels drawn");
    free(svg);
    /* a chosen setting alone */
    snprintf(prefix, sizeof prefix, "%s/one", tu_tmpdir());
    cr_assert_eq(splitee_plot_regrets(prefix, res, nres, 1, &e), 0, "%s", e.msg);
    cr_assert(tu_exists(tu_path("one-regret-o0.5.png")));
    cr_assert(!tu_exists(tu_path("one-regret-o0.3.png")));
    cr_assert_eq(splitee_plot_regrets(prefix, res, nres, 2, &e), SPLITEE_ERR_ARG);
    /* a single setting keeps the plain name */
    snprintf(prefix, sizeof prefix, "%s/single", tu_tmpdir());
    cr_assert_eq(splitee_plot_replay(prefix, res, 1, &e), 0, "%s", e.msg);
    cr_assert(tu_exists(tu_path("single-regret.svg")) && tu_exists(tu_path("single-regret.png")));
    cr_assert(!tu_exists(tu_path("single-sweep.svg")));
}

Test(plot, regret_names_carry_what_differs)
{
    splitee_result r[4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 4; i++)
        splitee_setting_default(&r[i].setting);
    r[1].setting.reward.alpha = 0.7;
    r[2].setting.reward.offload = 0.1 + 0.2;   /* shortest round trip: exact */
    r[3].setting.beta = 1.5;
    char b[128];
    cr_assert_eq(splitee_plot_regret_name("p", r, 1, 0, b, sizeof b), 0);
    cr_assert_str_eq(b, "p-regret");
    cr_assert_eq(splitee_plot_regret_name("p", r, 4, 0, b, sizeof b), 0);
    cr_assert_str_eq(b, "p-regret-alpha0.8-o0.3-beta1");
    cr_assert_eq(splitee_plot_regret_name("p", r, 4, 2, b, sizeof b), 0);
    cr_assert_str_eq(b, "p-regret-alpha0.8-o0.30000000000000004-beta1");
    cr_assert_eq(splitee_plot_regret_name("p", r, 4, 3, b, sizeof b), 0);
    cr_assert_str_eq(b, "p-regret-alpha0.8-o0.3-beta1.5");
    /* settings the parameters do not tell apart: numbered */
    r[1] = r[0];
    cr_assert_eq(splitee_plot_regret_name("p", r, 2, 1, b, sizeof b), 0);
    cr_assert_str_eq(b, "p-regret-s2");
    cr_assert_eq(splitee_plot_regret_name("p", r, 2, 2, b, sizeof b), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_plot_regret_name("p", r, 2, 0, b, 8), SPLITEE_ERR_NOMEM);
}

Test(plot, a_policy_keeps_its_colour_whatever_is_plotted_with_it)
{
    /* the table: every known policy has its own colour */
    const char *names[] = { "splitee", "splitee-s", "final", "random", "oracle", "ee-threshold",
                            "epsilon-greedy", "thompson", "kl-ucb", "ucb-v", "sw-ucb", "sw-ucb-s",
                            "d-ucb", "d-ucb-s", "fixed:1", "fixed:2", "fixed:3" };
    const int n = (int)(sizeof names / sizeof *names);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            cr_assert_str_neq(splitee_plot_colour(names[i]), splitee_plot_colour(names[j]),
                              "%s and %s", names[i], names[j]);
    cr_assert_str_eq(splitee_plot_colour("splitee"), "#1f77b4");
    cr_assert_str_eq(splitee_plot_colour("mine"), splitee_plot_colour("mine"));
    /* and the figures use it, in whatever order and company */
    need_gnuplot();
    const double x[3] = { 1, 2, 3 }, y[3] = { 0, 1, 2 };
    const char *sets[3][3] = { { "splitee", "final", "oracle" },
                               { "oracle", "splitee", NULL },
                               { "thompson", "fixed:3", "splitee" } };
    for (int k = 0; k < 3; k++) {
        splitee_plot_series s[3];
        int ns = 0;
        for (; ns < 3 && sets[k][ns]; ns++)
            s[ns] = (splitee_plot_series){ sets[k][ns], 3, x, y, NULL, NULL, NULL };
        splitee_plot_spec spec = { "t", "x", "y", 0, 0, SPLITEE_PLOT_SCALE_SYMLOG };
        char prefix[512];
        snprintf(prefix, sizeof prefix, "%s/colour%d", tu_tmpdir(), k);
        splitee_error e;
        cr_assert_eq(splitee_plot(prefix, &spec, s, ns, &e), 0, "%s", e.msg);
        char svgname[32];
        snprintf(svgname, sizeof svgname, "colour%d.svg", k);
        char *svg = tu_read(tu_path(svgname), NULL);
        for (int i = 0; i < ns; i++) {
            char c[8];
            key_colour(svg, sets[k][i], c);
            cr_assert_str_eq(c, splitee_plot_colour(sets[k][i]), "%s in figure %d", sets[k][i], k);
        }
        free(svg);
    }
}

Test(plot, errors_name_the_users_output_not_a_temporary, .init = setup, .fini = teardown)
{
    need_gnuplot();
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/no-such-folder/fig", tu_tmpdir());
    splitee_error e;
    cr_assert_eq(splitee_plot_replay(prefix, res, nres, &e), SPLITEE_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "%s-regret-o0.3.svg: cannot write: ", prefix);
    cr_assert(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
    cr_assert_null(strstr(e.msg + strlen(prefix), "tmp"), "%s", e.msg);
    /* without gnuplot: the figure is named, nothing is left behind */
    snprintf(prefix, sizeof prefix, "%s/nognuplot", tu_tmpdir());
    const char *path = getenv("PATH");
    char *saved = path ? strdup(path) : NULL;
    setenv("PATH", "/nonexistent", 1);
    int st = splitee_plot_replay(prefix, res, nres, &e);
    if (saved)
        setenv("PATH", saved, 1);
    free(saved);
    cr_assert_eq(st, SPLITEE_ERR_IO);
    snprintf(want, sizeof want, "%s-regret-o0.3.svg: cannot run gnuplot", prefix);
    cr_assert(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
    cr_assert_eq(count_files(tu_tmpdir(), "nognuplot"), 0, "no files, not even temporaries");
}

Test(plot, a_gnuplot_failure_is_reported_under_the_figure_with_its_message)
{
    /* a stand-in gnuplot that fails the way gnuplot does on a bad program */
    char bin[512], fake[600];
    snprintf(bin, sizeof bin, "%s/fakebin", tu_tmpdir());
    cr_assert_eq(mkdir(bin, 0700), 0);
    snprintf(fake, sizeof fake, "%s/gnuplot", bin);
    FILE *f = fopen(fake, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\ncat > /dev/null\necho >&2\necho '\"/dev/stdin\" line 3: boom' >&2\nexit 1\n", f);
    fclose(f);
    cr_assert_eq(chmod(fake, 0700), 0);
    const char *path = getenv("PATH");
    char *saved = path ? strdup(path) : NULL;
    setenv("PATH", bin, 1);
    const double x[2] = { 1, 2 }, y[2] = { 1, 2 };
    splitee_plot_series s = { "splitee", 2, x, y, NULL, NULL, NULL };
    splitee_plot_spec spec = { "t", "x", "y", 0, 0, SPLITEE_PLOT_SCALE_LINEAR };
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/bad", tu_tmpdir());
    splitee_error e;
    int st = splitee_plot(prefix, &spec, &s, 1, &e);
    if (saved)
        setenv("PATH", saved, 1);
    free(saved);
    cr_assert_eq(st, SPLITEE_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "%s.svg: gnuplot failed to draw the figure: line 3: boom", prefix);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(count_files(tu_tmpdir(), "bad."), 0, "no files, not even temporaries");
}
