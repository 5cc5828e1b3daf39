/* report.c -- replay results as a terminal table, JSON, CSV, curves and
 * per-round traces (report.h). Layers are printed 1-based everywhere. */
#include <math.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "core/internal.h"
#include "splitee/report.h"

int splitee_file_write_atomic(const char *path, const void *data, size_t len,
                              splitee_error *err)
{
    return splitee__write_file_atomic(path, data, len, err);
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
    fprintf(f, "alpha %.3g  lambda %.3g  mu %.3g  offload %.3g  beta %.3g  |  "
               "%zu samples x %d repetitions, %d layers\n",
            s->reward.alpha, s->reward.lambda, s->reward.mu, s->reward.offload, s->beta,
            r->rounds, r->repetitions, r->arms);
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

static cJSON *stat_json(splitee_stat s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", s.mean);
    cJSON_AddNumberToObject(o, "lo", s.lo);
    cJSON_AddNumberToObject(o, "hi", s.hi);
    cJSON_AddNumberToObject(o, "sd", s.sd);
    return o;
}

static cJSON *setting_json(const splitee_result *r)
{
    cJSON *o = cJSON_CreateObject();
    const splitee_setting *s = &r->setting;
    cJSON_AddNumberToObject(o, "alpha", s->reward.alpha);
    cJSON_AddNumberToObject(o, "lambda", s->reward.lambda);
    cJSON_AddNumberToObject(o, "mu", s->reward.mu);
    cJSON_AddNumberToObject(o, "offload", s->reward.offload);
    cJSON_AddNumberToObject(o, "beta", s->beta);
    cJSON_AddItemToObject(o, "device_cost", cJSON_CreateDoubleArray(r->reward.gamma, r->arms));
    cJSON_AddItemToObject(o, "offload_cost", cJSON_CreateDoubleArray(r->reward.offload, r->arms));
    return o;
}

static cJSON *policy_json(const splitee_result *r, const splitee_policy_result *pr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "policy", pr->name);
    if (pr->config.kind == SPLITEE_POLICY_SPLITEE_S || pr->config.kind == SPLITEE_POLICY_SW_UCB_S ||
        pr->config.kind == SPLITEE_POLICY_D_UCB_S)
        cJSON_AddStringToObject(o, "side_info", pr->config.side_info == SPLITEE_SIDE_INFO_REFERENCE
                                                    ? "reference" : "honest");
    if (pr->config.kind == SPLITEE_POLICY_EPSILON_GREEDY)
        cJSON_AddNumberToObject(o, "epsilon", pr->config.epsilon);
    if (pr->config.kind == SPLITEE_POLICY_THOMPSON)
        cJSON_AddNumberToObject(o, "prior_sd", pr->config.prior_sd);
    if (pr->config.kind == SPLITEE_POLICY_SW_UCB || pr->config.kind == SPLITEE_POLICY_SW_UCB_S)
        cJSON_AddNumberToObject(o, "window", pr->config.window);
    if (pr->config.kind == SPLITEE_POLICY_D_UCB || pr->config.kind == SPLITEE_POLICY_D_UCB_S)
        cJSON_AddNumberToObject(o, "discount", pr->config.discount);
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
    cJSON_AddNumberToObject(o, "learned_layer", pr->learned_arm + 1);
    cJSON_AddNumberToObject(o, "learned_share", pr->learned_share);
    cJSON_AddItemToObject(o, "layer_plays", cJSON_CreateDoubleArray(pr->arm_plays, r->arms));
    cJSON *h = cJSON_CreateObject();
    cJSON_AddItemToObject(h, "device_exit", cJSON_CreateDoubleArray(pr->exit_hist, r->arms));
    cJSON_AddNumberToObject(h, "offloaded", pr->exit_hist[r->arms]);
    cJSON_AddItemToObject(o, "exit_histogram", h);
    return o;
}

static cJSON *meta_json(const splitee_report_meta *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tool", "splitee replay");
    if (m->command_line)
        cJSON_AddStringToObject(o, "command", m->command_line);
    cJSON_AddStringToObject(o, "logits", m->logits_path ? m->logits_path : "");
    if (m->labels_path)
        cJSON_AddStringToObject(o, "labels", m->labels_path);
    cJSON_AddStringToObject(o, "confidence", splitee_confidence_name(m->confidence));
    if (m->replay) {
        const splitee_replay_config *c = m->replay;
        cJSON_AddNumberToObject(o, "repetitions", c->repetitions);
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
        cJSON_AddStringToObject(o, "seed", seed);
        cJSON_AddStringToObject(o, "order", order_name(c->order));
        cJSON_AddStringToObject(o, "init", init_name(c->init));
        cJSON_AddNumberToObject(o, "checkpoints", c->checkpoints);
    }
    cJSON_AddStringToObject(o, "side_info", m->side_info == SPLITEE_SIDE_INFO_REFERENCE
                                                ? "reference" : "honest");
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
        cJSON_AddNumberToObject(s, "samples", (double)r->rounds);
        cJSON_AddNumberToObject(s, "layers", r->arms);
        cJSON_AddItemToObject(s, "layer_mean_reward", cJSON_CreateDoubleArray(r->arm_mean, r->arms));
        cJSON_AddNumberToObject(s, "best_layer", r->best_arm + 1);
        if (r->segments > 1) {   /* a changing world: what each piece was */
            cJSON *segs = cJSON_AddArrayToObject(s, "segments");
            for (int k = 0; k < r->segments; k++) {
                const splitee_segment_info *g = &r->segment[k];
                cJSON *x = cJSON_CreateObject();
                cJSON_AddNumberToObject(x, "first_round", (double)(g->start + 1));
                cJSON_AddNumberToObject(x, "rounds", (double)g->rounds);
                cJSON_AddStringToObject(x, "table", g->table);
                cJSON_AddNumberToObject(x, "best_layer", g->best_arm + 1);
                cJSON_AddItemToObject(x, "layer_mean_reward",
                                      cJSON_CreateDoubleArray(g->arm_mean, r->arms));
                cJSON_AddItemToArray(segs, x);
            }
        }
        cJSON *fin = cJSON_AddObjectToObject(s, "final");
        cJSON_AddNumberToObject(fin, "accuracy", r->final_accuracy);
        cJSON_AddNumberToObject(fin, "cost", r->final_cost);
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

static void csv_setting(FILE *f, const splitee_result *r)
{
    const splitee_setting *s = &r->setting;
    fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g", s->reward.alpha, s->reward.lambda,
            s->reward.mu, s->reward.offload, s->beta);
}

static void csv_stat(FILE *f, splitee_stat s)
{
    fprintf(f, ",%.17g,%.17g,%.17g", s.mean, s.lo, s.hi);
}

int splitee_report_csv(FILE *f, const splitee_result *res, int nres)
{
    static const char *metrics[] = { "accuracy", "cost", "reward", "offload_rate",
                                     "cost_reduction", "accuracy_change",
                                     "pseudo_regret", "realized_regret" };
    fputs("alpha,lambda,mu,offload,beta,policy", f);
    for (size_t m = 0; m < sizeof metrics / sizeof *metrics; m++)
        fprintf(f, ",%s,%s_lo,%s_hi", metrics[m], metrics[m], metrics[m]);
    /* dynamic regret columns only for a stream with shifts (same for every
     * result: the settings share the stream) */
    const int dyn = nres > 0 && res[0].segments > 1;
    fputs(",learned_layer,learned_share", f);
    if (dyn)
        fputs(",dynamic_pseudo_regret,dynamic_pseudo_regret_lo,dynamic_pseudo_regret_hi"
              ",dynamic_realized_regret,dynamic_realized_regret_lo,dynamic_realized_regret_hi", f);
    fputc('\n', f);
    for (int i = 0; i < nres; i++) {
        for (int p = 0; p < res[i].npolicies; p++) {
            const splitee_policy_result *pr = &res[i].policies[p];
            csv_setting(f, &res[i]);
            fprintf(f, ",%s", pr->name);
            csv_stat(f, pr->accuracy);
            csv_stat(f, pr->cost);
            csv_stat(f, pr->reward);
            csv_stat(f, pr->offload_rate);
            csv_stat(f, pr->cost_reduction);
            csv_stat(f, pr->accuracy_change);
            csv_stat(f, pr->pseudo_regret);
            csv_stat(f, pr->realized_regret);
            fprintf(f, ",%d,%.17g", pr->learned_arm + 1, pr->learned_share);
            if (dyn) {
                csv_stat(f, pr->dynamic_pseudo_regret);
                csv_stat(f, pr->dynamic_realized_regret);
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
                    fprintf(f, ",%.10g", c[(size_t)k * 3 * SPLITEE_CURVE_KINDS + m]);
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
        for (size_t i = 0; i < res->rounds; i++)
            fprintf(f, "%s,%zu,%u,%d,%s,%d,%.10g,%.10g,%s\n", res->policies[p].name, i + 1,
                    t[i].sample, t[i].arm + 1, t[i].offloaded ? "offload" : "exit",
                    t[i].exit + 1, t[i].reward, t[i].cost,
                    res->has_labels ? (t[i].correct ? "1" : "0") : "");
    }
    return io_status(f);
}
