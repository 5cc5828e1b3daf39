/* report.c -- replay results as a terminal table, JSON, CSV, curves and
 * per-round traces (report.h). Layers are printed 1-based everywhere. */
#include <math.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "splitee/report.h"
#include "splitee/splitee.h"   /* SPLITEE_VERSION */

int splitee_report_utc_date(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!buf || len < 21 || !gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return SPLITEE_ERR_ARG;
    return strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 20 ? SPLITEE_OK : SPLITEE_ERR_ARG;
}

static int io_status(FILE *f)
{
    return ferror(f) ? SPLITEE_ERR_IO : SPLITEE_OK;
}

static const char *order_name(splitee_order o)
{
    return o == SPLITEE_ORDER_GIVEN ? "given" : "shuffle";
}

static const char *init_name(splitee_init i)
{
    return i == SPLITEE_INIT_REFERENCE ? "reference" : "play-once";
}

/* ------------------------------------------------------------- table --- */

/* "0.8712 ±0.0012" (or "n/a") into buf, scaled by `scale`. */
static void fmt_stat(char *buf, size_t len, splitee_stat s, double scale, int prec)
{
    if (isnan(s.mean))
        snprintf(buf, len, "n/a");
    else /* "+ 0.0" and the rounding guard keep "-0.0" out of the table */
        snprintf(buf, len, "%.*f ±%.*f", prec,
                 fabs(s.mean * scale) < 0.5 * pow(10, -prec) ? 0.0 : s.mean * scale, prec,
                 (s.hi - s.lo) / 2 * scale + 0.0);
}

static void table_setting(FILE *f, const splitee_result *r)
{
    const splitee_setting *s = &r->setting;
    /* a per-layer vector replaces lambda (or o): say so rather than show
     * the unused scalar */
    if (r->reward.exit.kind == SPLITEE_EXIT_KIND_THRESHOLD) {
        fprintf(f, "alpha %.3g  ", s->reward.alpha);
    } else {   /* another exit rule: name it whole */
        char rule[160];
        splitee_exit_rule_describe(&r->reward.exit, rule, sizeof rule);
        fprintf(f, "rule %s  ", rule);
    }
    if (s->reward.layer_cost)
        fputs("per-layer device costs  ", f);
    else
        fprintf(f, "lambda %.3g  ", s->reward.lambda);
    fprintf(f, "mu %.3g  ", s->reward.mu);
    if (s->reward.offload_cost)
        fputs("per-layer offload costs  ", f);
    else if (r->offload_scheduled)
        fprintf(f, "offload from the link (mean %.3g)  ", s->reward.offload);
    else
        fprintf(f, "offload %.3g  ", s->reward.offload);
    fprintf(f, "beta %.3g  |  %zu samples x %d repetitions, %d layers\n", s->beta, r->rounds,
            r->repetitions, r->arms);
    fprintf(f, "best fixed layer %d (mean reward %.4f); final exit on device: ",
            r->best_arm + 1, r->arm_mean[r->best_arm]);
    if (r->has_labels)
        fprintf(f, "accuracy %.4f, ", r->final_accuracy);
    fprintf(f, "cost %.4g\n", r->final_cost);
    for (int k = 0; r->segments > 1 && k < r->segments; k++) {
        const splitee_segment_info *g = &r->segment[k];
        fprintf(f, "%s rounds %zu-%zu: %s, best layer %d (mean reward %.4f)\n",
                k ? "          " : "segments: ", g->start + 1, g->start + g->rounds, g->table,
                g->best_arm + 1, g->arm_mean[g->best_arm]);
    }
    fputc('\n', f);
}

int splitee_report_table(FILE *f, const splitee_result *res, int nres)
{
    for (int i = 0; i < nres; i++) {
        const splitee_result *r = &res[i];
        if (i)
            fputc('\n', f);
        table_setting(f, r);
        const int dyn = r->segments > 1;   /* a changing world: dynamic regret too */
        fprintf(f, "%-15s %-17s %-17s %-16s %-16s %-15s %-10s %-19s %s%s\n",
                "policy", "accuracy", "avg cost", "cost red. %", "acc. change pp",
                "offload %", "layer", "pseudo regret", dyn ? "realized regret     " : "realized regret",
                dyn ? "dyn. pseudo regret  dyn. realized regret" : "");
        for (int p = 0; p < r->npolicies; p++) {
            const splitee_policy_result *pr = &r->policies[p];
            char acc[40], cost[40], red[40], chg[40], off[40], lay[24], pr1[40], pr2[40];
            fmt_stat(acc, sizeof acc, pr->accuracy, 1, 4);
            fmt_stat(cost, sizeof cost, pr->cost, 1, 4);
            fmt_stat(red, sizeof red, pr->cost_reduction, 100, 1);
            fmt_stat(chg, sizeof chg, pr->accuracy_change, 100, 2);
            fmt_stat(off, sizeof off, pr->offload_rate, 100, 1);
            snprintf(lay, sizeof lay, "%d (%.0f%%)", pr->learned_arm + 1, 100 * pr->learned_share);
            fmt_stat(pr1, sizeof pr1, pr->pseudo_regret, 1, 1);
            fmt_stat(pr2, sizeof pr2, pr->realized_regret, 1, 1);
            /* "±" is two bytes but one column: pad by one more */
            if (!dyn) {
                fprintf(f, "%-15s %-18s %-18s %-17s %-17s %-16s %-10s %-20s %s\n", pr->name,
                        acc, cost, red, chg, off, lay, pr1, pr2);
                continue;
            }
            char dp[40], dr[40];
            fmt_stat(dp, sizeof dp, pr->dynamic_pseudo_regret, 1, 1);
            fmt_stat(dr, sizeof dr, pr->dynamic_realized_regret, 1, 1);
            fprintf(f, "%-15s %-18s %-18s %-17s %-17s %-16s %-10s %-20s %-20s %-20s %s\n",
                    pr->name, acc, cost, red, chg, off, lay, pr1, pr2, dp, dr);
        }
    }
    return io_status(f);
}

/* -------------------------------------------------------------- json --- */

/* Numbers go in through numfmt.h (shortest round-trip, raw items), never
 * cJSON_AddNumberToObject (which prints %.15g whenever it reads back within
 * a relative epsilon, so 0.1 + 0.2 would come out as 0.3). */
#define num_add splitee__json_add_number

static cJSON *stat_json(splitee_stat s)
{
    cJSON *o = cJSON_CreateObject();
    num_add(o, "mean", s.mean);
    num_add(o, "lo", s.lo);
    num_add(o, "hi", s.hi);
    num_add(o, "sd", s.sd);
    return o;
}

static cJSON *setting_json(const splitee_result *r)
{
    cJSON *o = cJSON_CreateObject();
    const splitee_setting *s = &r->setting;
    num_add(o, "alpha", s->reward.alpha);
    char rule[160];
    splitee_exit_rule_describe(&r->reward.exit, rule, sizeof rule);
    cJSON_AddStringToObject(o, "exit_rule", rule);
    /* a per-layer vector replaced the scalar: null, and the vector */
    if (s->reward.layer_cost)
        cJSON_AddNullToObject(o, "lambda");
    else
        num_add(o, "lambda", s->reward.lambda);
    num_add(o, "mu", s->reward.mu);
    if (s->reward.offload_cost)
        cJSON_AddNullToObject(o, "offload");
    else
        num_add(o, "offload", s->reward.offload);
    num_add(o, "beta", s->beta);
    if (s->reward.layer_cost)
        cJSON_AddItemToObject(o, "layer_cost", splitee__json_numbers(s->reward.layer_cost, r->arms));
    cJSON_AddItemToObject(o, "device_cost", splitee__json_numbers(r->reward.gamma, r->arms));
    cJSON_AddItemToObject(o, "offload_cost", splitee__json_numbers(r->reward.offload, r->arms));
    return o;
}

static cJSON *policy_json(const splitee_result *r, const splitee_policy_result *pr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "policy", pr->name);
    /* the parameters this kind reads (beta is the setting's, reported there) */
    const unsigned params = splitee_policy_kind_info(pr->config.kind)->params;
    if (params & SPLITEE_POLICY_PARAM_SIDE_INFO)
        cJSON_AddStringToObject(o, "side_info", pr->config.side_info == SPLITEE_SIDE_INFO_REFERENCE
                                                    ? "reference" : "honest");
    if (params & SPLITEE_POLICY_PARAM_EPSILON)
        num_add(o, "epsilon", pr->config.epsilon);
    if (params & SPLITEE_POLICY_PARAM_PRIOR_SD)
        num_add(o, "prior_sd", pr->config.prior_sd);
    if (params & SPLITEE_POLICY_PARAM_WINDOW)
        num_add(o, "window", pr->config.window);
    if (params & SPLITEE_POLICY_PARAM_DISCOUNT)
        num_add(o, "discount", pr->config.discount);
    cJSON_AddItemToObject(o, "accuracy", stat_json(pr->accuracy));
    cJSON_AddItemToObject(o, "cost", stat_json(pr->cost));
    cJSON_AddItemToObject(o, "reward", stat_json(pr->reward));
    cJSON_AddItemToObject(o, "offload_rate", stat_json(pr->offload_rate));
    cJSON_AddItemToObject(o, "cost_reduction", stat_json(pr->cost_reduction));
    cJSON_AddItemToObject(o, "accuracy_change", stat_json(pr->accuracy_change));
    cJSON_AddItemToObject(o, "pseudo_regret", stat_json(pr->pseudo_regret));
    cJSON_AddItemToObject(o, "realized_regret", stat_json(pr->realized_regret));
    if (r->segments > 1) {
        cJSON_AddItemToObject(o, "dynamic_pseudo_regret", stat_json(pr->dynamic_pseudo_regret));
        cJSON_AddItemToObject(o, "dynamic_realized_regret",
                              stat_json(pr->dynamic_realized_regret));
    }
    num_add(o, "learned_layer", pr->learned_arm + 1);
    num_add(o, "learned_share", pr->learned_share);
    cJSON_AddItemToObject(o, "layer_plays", splitee__json_numbers(pr->arm_plays, r->arms));
    cJSON *h = cJSON_CreateObject();
    cJSON_AddItemToObject(h, "device_exit", splitee__json_numbers(pr->exit_hist, r->arms));
    num_add(h, "offloaded", pr->exit_hist[r->arms]);
    cJSON_AddItemToObject(o, "exit_histogram", h);
    return o;
}

static cJSON *meta_json(const splitee_report_meta *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tool", "splitee replay");
    cJSON_AddStringToObject(o, "version", SPLITEE_VERSION);
    if (m->date)
        cJSON_AddStringToObject(o, "date", m->date);
    if (m->command_line)
        cJSON_AddStringToObject(o, "command", m->command_line);
    cJSON_AddStringToObject(o, "logits", m->logits_path ? m->logits_path : "");
    if (m->labels_path)
        cJSON_AddStringToObject(o, "labels", m->labels_path);
    cJSON_AddStringToObject(o, "confidence", splitee_confidence_name(m->confidence));
    if (m->replay) {
        const splitee_replay_config *c = m->replay;
        num_add(o, "repetitions", c->repetitions);
        /* the seed is a 64-bit integer: its exact digits, as a number
         * (a double would round seeds above 2^53) */
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
        cJSON_AddRawToObject(o, "seed", seed);
        cJSON_AddStringToObject(o, "order", order_name(c->order));
        cJSON_AddStringToObject(o, "init", init_name(c->init));
        num_add(o, "checkpoints", c->checkpoints);
    }
    cJSON_AddStringToObject(o, "side_info", m->side_info == SPLITEE_SIDE_INFO_REFERENCE
                                                ? "reference" : "honest");
    if (m->link_path || m->link_name) {
        cJSON *l = cJSON_AddObjectToObject(o, "link");
        if (m->link_name)
            cJSON_AddStringToObject(l, "name", m->link_name);
        if (m->link_path)
            cJSON_AddStringToObject(l, "profile", m->link_path);
    }
    return o;
}

int splitee_report_json(FILE *f, const splitee_result *res, int nres,
                        const splitee_report_meta *meta)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return SPLITEE_ERR_NOMEM;
    cJSON_AddItemToObject(root, "meta", meta_json(meta));
    cJSON *sets = cJSON_AddArrayToObject(root, "settings");
    for (int i = 0; i < nres; i++) {
        const splitee_result *r = &res[i];
        cJSON *s = cJSON_CreateObject();
        cJSON_AddItemToObject(s, "parameters", setting_json(r));
        num_add(s, "samples", (double)r->rounds);
        num_add(s, "layers", r->arms);
        cJSON_AddItemToObject(s, "layer_mean_reward", splitee__json_numbers(r->arm_mean, r->arms));
        num_add(s, "best_layer", r->best_arm + 1);
        if (r->segments > 1) {   /* a changing world: what each piece was */
            cJSON *segs = cJSON_AddArrayToObject(s, "segments");
            for (int k = 0; k < r->segments; k++) {
                const splitee_segment_info *g = &r->segment[k];
                cJSON *x = cJSON_CreateObject();
                num_add(x, "first_round", (double)(g->start + 1));
                num_add(x, "rounds", (double)g->rounds);
                cJSON_AddStringToObject(x, "table", g->table);
                num_add(x, "best_layer", g->best_arm + 1);
                cJSON_AddItemToObject(x, "layer_mean_reward",
                                      splitee__json_numbers(g->arm_mean, r->arms));
                cJSON_AddItemToArray(segs, x);
            }
        }
        cJSON *fin = cJSON_AddObjectToObject(s, "final");
        num_add(fin, "accuracy", r->final_accuracy);
        num_add(fin, "cost", r->final_cost);
        cJSON *pols = cJSON_AddArrayToObject(s, "policies");
        for (int p = 0; p < r->npolicies; p++)
            cJSON_AddItemToArray(pols, policy_json(r, &r->policies[p]));
        cJSON_AddItemToArray(sets, s);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return SPLITEE_ERR_NOMEM;
    fputs(text, f);
    fputc('\n', f);
    cJSON_free(text);
    return io_status(f);
}

/* --------------------------------------------------------------- csv --- */

/* ",x" in the shortest round-trip form. */
static void csv_num(FILE *f, double x)
{
    fputc(',', f);
    splitee__put_double(f, x);
}

/* The five parameter cells; lambda (o) empty when a per-layer vector
 * replaced it. */
static void csv_setting(FILE *f, const splitee_result *r)
{
    const splitee_setting *s = &r->setting;
    splitee__put_double(f, s->reward.alpha);
    if (s->reward.layer_cost)
        fputc(',', f);
    else
        csv_num(f, s->reward.lambda);
    csv_num(f, s->reward.mu);
    if (s->reward.offload_cost)
        fputc(',', f);
    else
        csv_num(f, s->reward.offload);
    csv_num(f, s->beta);
}

static void csv_stat(FILE *f, splitee_stat s, double scale)
{
    csv_num(f, s.mean * scale);
    csv_num(f, s.lo * scale);
    csv_num(f, s.hi * scale);
}

/* The table's columns: name (with its unit) and scale from the result's
 * fraction to that unit. The order is fixed (scripts index columns). */
static const struct { const char *name; double scale; } CSV_METRICS[] = {
    { "accuracy", 1 }, { "cost", 1 }, { "reward", 1 }, { "offload_rate_pct", 100 },
    { "cost_reduction_pct", 100 }, { "accuracy_change_pp", 100 },
    { "pseudo_regret", 1 }, { "realized_regret", 1 },
};
#define NCSV_METRICS (int)(sizeof CSV_METRICS / sizeof *CSV_METRICS)

int splitee_report_csv(FILE *f, const splitee_result *res, int nres)
{
    fputs("alpha,lambda,mu,offload,beta,policy", f);
    for (int m = 0; m < NCSV_METRICS; m++)
        fprintf(f, ",%s,%s_lo,%s_hi", CSV_METRICS[m].name, CSV_METRICS[m].name,
                CSV_METRICS[m].name);
    /* dynamic regret columns only for a stream with shifts (same for every
     * result: the settings share the stream) */
    const int dyn = nres > 0 && res[0].segments > 1;
    fputs(",learned_layer,learned_share_pct", f);
    if (dyn)
        fputs(",dynamic_pseudo_regret,dynamic_pseudo_regret_lo,dynamic_pseudo_regret_hi"
              ",dynamic_realized_regret,dynamic_realized_regret_lo,dynamic_realized_regret_hi", f);
    fputc('\n', f);
    for (int i = 0; i < nres; i++) {
        for (int p = 0; p < res[i].npolicies; p++) {
            const splitee_policy_result *pr = &res[i].policies[p];
            const splitee_stat *stat[NCSV_METRICS] = {
                &pr->accuracy, &pr->cost, &pr->reward, &pr->offload_rate,
                &pr->cost_reduction, &pr->accuracy_change, &pr->pseudo_regret,
                &pr->realized_regret,
            };
            csv_setting(f, &res[i]);
            fprintf(f, ",%s", pr->name);
            for (int m = 0; m < NCSV_METRICS; m++)
                csv_stat(f, *stat[m], CSV_METRICS[m].scale);
            fprintf(f, ",%d", pr->learned_arm + 1);
            csv_num(f, 100 * pr->learned_share);
            if (dyn) {
                csv_stat(f, pr->dynamic_pseudo_regret, 1);
                csv_stat(f, pr->dynamic_realized_regret, 1);
            }
            fputc('\n', f);
        }
    }
    return io_status(f);
}

int splitee_report_curves(FILE *f, const splitee_result *res, int nres)
{
    static const char *kinds[SPLITEE_CURVE_KINDS] = { "pseudo_regret", "realized_regret",
                                                      "accuracy", "cost",
                                                      "dynamic_pseudo_regret",
                                                      "dynamic_realized_regret" };
    /* the dynamic regret columns only for a stream with shifts */
    const int nkinds = nres > 0 && res[0].segments > 1 ? SPLITEE_CURVE_KINDS
                                                       : SPLITEE_CURVE_DYNAMIC_PSEUDO_REGRET;
    fputs("alpha,lambda,mu,offload,beta,policy,round", f);
    for (int k = 0; k < nkinds; k++)
        fprintf(f, ",%s,%s_lo,%s_hi", kinds[k], kinds[k], kinds[k]);
    fputc('\n', f);
    for (int i = 0; i < nres; i++) {
        const splitee_result *r = &res[i];
        for (int p = 0; p < r->npolicies; p++) {
            const double *c = r->policies[p].curves;
            for (int k = 0; c && k < r->checkpoints; k++) {
                csv_setting(f, r);
                fprintf(f, ",%s,%zu", r->policies[p].name, r->checkpoint_rounds[k]);
                for (int m = 0; m < 3 * nkinds; m++)
                    csv_num(f, c[(size_t)k * 3 * SPLITEE_CURVE_KINDS + m]);
                fputc('\n', f);
            }
        }
    }
    return io_status(f);
}

int splitee_report_trace(FILE *f, const splitee_result *res)
{
    if (!res || !res->policies || !res->policies[0].trace)
        return SPLITEE_ERR_ARG;
    fputs("policy,round,sample,layer,outcome,exit_layer,reward,cost,correct\n", f);
    for (int p = 0; p < res->npolicies; p++) {
        const splitee_trace_row *t = res->policies[p].trace;
        for (size_t i = 0; i < res->rounds; i++) {
            fprintf(f, "%s,%zu,%u,%d,%s,%d", res->policies[p].name, i + 1, t[i].sample,
                    t[i].arm + 1, t[i].offloaded ? "offload" : "exit", t[i].exit + 1);
            csv_num(f, t[i].reward);
            csv_num(f, t[i].cost);
            fprintf(f, ",%s\n", res->has_labels ? (t[i].correct ? "1" : "0") : "");
        }
    }
    return io_status(f);
}
