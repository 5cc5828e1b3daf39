/* test_replay.c -- the replay harness against a naive replay written here,
 * the authors' published algorithm (recorded choices in tests/fixtures,
 * made by tools/reference_splitee.py), and its determinism promises; streams
 * with a domain shift (segments) and their static and dynamic regret; every
 * exit rule, for fixed arms and the early-exit deployment, against a naive
 * replay of its definition. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "splitee/splitee.h"

#define N 300
#define L 6
#define K 3

/* A synthetic table whose confidences straddle any threshold. */
static splitee_table *synthetic(int with_labels)
{
    static double logits[N * L * K];
    static int32_t labels[N];
    unsigned x = 12345;
    for (int s = 0; s < N; s++) {
        labels[s] = s % K;
        for (int e = 0; e < L; e++)
            for (int k = 0; k < K; k++) {
                x = x * 1103515245u + 12345u;
                double u = (x >> 8) / 16777216.0;
                logits[(s * L + e) * K + k] = 3 * u + (k == labels[s] ? 0.5 * e * ((s % 5) / 4.0) : 0);
            }
    }
    splitee_table *t;
    splitee_error e;
    cr_assert_eq(splitee_table_from_logits("synthetic", logits, N, L, K,
                                           with_labels ? labels : NULL, &t, &e), 0, "%s", e.msg);
    return t;
}

static splitee_policy_config policy(const char *name)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    cr_assert_eq(splitee_policy_parse(name, &pc), 0, "%s", name);
    return pc;
}

static splitee_result *run(splitee_table *t, const splitee_setting *set, int nset,
                           const splitee_policy_config *pols, int np,
                           const splitee_replay_config *rc)
{
    splitee_replay *rp;
    splitee_error e;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e), 0, "%s", e.msg);
    splitee_result *res;
    cr_assert_eq(splitee_replay_run(rp, set, nset, pols, np, rc, &res, &e), 0, "%s", e.msg);
    splitee_replay_free(rp);
    return res;
}

static int *read_arms(const char *path, int *n)
{
    size_t len;
    char *text = tu_read(path, &len);
    cr_assert(text, "cannot read %s", path);
    int *arms = malloc(sizeof(int) * (len + 1));
    *n = 0;
    for (char *tok = strtok(text, "\n"); tok; tok = strtok(NULL, "\n"))
        arms[(*n)++] = atoi(tok);
    free(text);
    return arms;
}

static void check_reference(const char *kind, double offload, const char *expected)
{
    splitee_table *t;
    splitee_error e;
    cr_assert_eq(splitee_table_load_npy("fixtures/ref-logits.npy", "fixtures/ref-labels.npy",
                                        SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &e), 0, "%s", e.msg);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.alpha = 0.75;
    set.reward.lambda = 0.1;
    set.reward.offload = offload;
    splitee_policy_config pc = policy(kind);
    pc.side_info = SPLITEE_SIDE_INFO_REFERENCE;
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 1;
    rc.order = SPLITEE_ORDER_GIVEN;
    rc.init = SPLITEE_INIT_REFERENCE;
    rc.trace = 1;
    splitee_result *res = run(t, &set, 1, &pc, 1, &rc);
    int n;
    int *arms = read_arms(expected, &n);
    cr_assert_eq((size_t)n, res->rounds);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(res->policies[0].trace[i].sample, (uint32_t)i);
        cr_assert_eq(res->policies[0].trace[i].arm + 1, arms[i],
                     "%s o=%g: round %d chose layer %d, published algorithm %d", kind, offload,
                     i + 1, res->policies[0].trace[i].arm + 1, arms[i]);
    }
    free(arms);
    splitee_results_free(res, 1);
    splitee_table_free(t);
}

Test(replay, reference_mode_reproduces_published_splitee)
{
    check_reference("splitee", 0.1, "fixtures/ref-splitee-o0.1.txt");
    check_reference("splitee", 0.5, "fixtures/ref-splitee-o0.5.txt");
}

Test(replay, reference_mode_reproduces_published_splitee_s)
{
    check_reference("splitee-s", 0.1, "fixtures/ref-splitee-s-o0.1.txt");
    check_reference("splitee-s", 0.5, "fixtures/ref-splitee-s-o0.5.txt");
}

/* A fixed arm replayed naively, in the table's order, must give the same
 * accuracy, cost, offload rate and regrets. */
Test(replay, fixed_arm_matches_naive_replay)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.alpha = 0.55;
    set.reward.offload = 0.2;
    splitee_reward rw;
    cr_assert_eq(splitee_reward_init(&rw, &set.reward, L, NULL), 0);
    const double *z = splitee_table_logits(t);
    const int32_t *y = splitee_table_labels(t);
    static double conf[N * L];
    static int32_t pred[N * L];
    splitee_table_confidences(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, conf, pred);
    (void)z;
    long double mean[L] = { 0 };
    for (int s = 0; s < N; s++)
        for (int a = 0; a < L; a++)
            mean[a] += splitee_reward_outcome(&rw, a, conf + s * L).reward / (long double)N;
    int best = 0;
    for (int a = 1; a < L; a++)
        if (mean[a] > mean[best])
            best = a;

    for (int arm = 0; arm < L; arm++) {
        int correct = 0, off = 0;
        long double cost = 0, realized = 0;
        for (int s = 0; s < N; s++) {
            const double *row = conf + s * L;
            int exit = (arm == L - 1 || row[arm] >= set.reward.alpha) ? arm : L - 1;
            off += exit != arm;
            correct += pred[s * L + exit] == y[s];
            cost += rw.gamma[arm] + (exit != arm ? rw.offload[arm] : 0);
            realized += splitee_reward_outcome(&rw, best, row).reward -
                        splitee_reward_outcome(&rw, arm, row).reward;
        }
        char name[16];
        snprintf(name, sizeof name, "fixed:%d", arm + 1);
        splitee_policy_config pc = policy(name);
        splitee_replay_config rc;
        splitee_replay_config_default(&rc);
        rc.repetitions = 3;
        splitee_result *res = run(t, &set, 1, &pc, 1, &rc);
        const splitee_policy_result *pr = &res->policies[0];
        cr_assert_float_eq(pr->accuracy.mean, correct / (double)N, 1e-12);
        cr_assert_float_eq(pr->cost.mean, (double)(cost / N), 1e-12);
        cr_assert_float_eq(pr->offload_rate.mean, off / (double)N, 1e-12);
        cr_assert_float_eq(pr->realized_regret.mean, (double)realized, 1e-9);
        cr_assert_float_eq(pr->pseudo_regret.mean, (double)(N * (mean[best] - mean[arm])), 1e-9);
        cr_assert_eq(pr->learned_arm, arm);
        cr_assert_float_eq(pr->accuracy_change.mean,
                           correct / (double)N - res->final_accuracy, 1e-12);
        splitee_results_free(res, 1);
    }
    splitee_table_free(t);
}

Test(replay, oracle_plays_best_arm_with_zero_pseudo_regret)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    splitee_policy_config pc = policy("oracle");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 4;
    splitee_result *res = run(t, &set, 1, &pc, 1, &rc);
    cr_assert_eq(res->policies[0].pseudo_regret.mean, 0);
    cr_assert_eq(res->policies[0].learned_arm, res->best_arm);
    cr_assert_float_eq(res->policies[0].realized_regret.mean, 0, 1e-9);
    splitee_results_free(res, 1);
    splitee_table_free(t);
}

static void assert_same_results(const splitee_result *a, const splitee_result *b, int np)
{
    for (int p = 0; p < np; p++) {
        const splitee_policy_result *x = &a->policies[p], *y = &b->policies[p];
        cr_assert_eq(memcmp(&x->accuracy, &y->accuracy, sizeof x->accuracy), 0, "%s", x->name);
        cr_assert_eq(memcmp(&x->cost, &y->cost, sizeof x->cost), 0);
        cr_assert_eq(memcmp(&x->pseudo_regret, &y->pseudo_regret, sizeof x->pseudo_regret), 0);
        cr_assert_eq(memcmp(&x->realized_regret, &y->realized_regret, sizeof x->realized_regret), 0);
        cr_assert_eq(memcmp(x->arm_plays, y->arm_plays, sizeof x->arm_plays), 0);
        cr_assert_eq(memcmp(x->curves, y->curves,
                            (size_t)a->checkpoints * SPLITEE_CURVE_KINDS * 3 * sizeof(double)), 0);
    }
}

Test(replay, results_do_not_depend_on_thread_count)
{
    splitee_table *t = synthetic(1);
    splitee_setting set[2];
    splitee_setting_default(&set[0]);
    splitee_setting_default(&set[1]);
    set[1].reward.offload = 0.6;
    splitee_policy_config pols[4] = { policy("splitee"), policy("splitee-s"), policy("random"),
                                      policy("thompson") };
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 7;
    rc.threads = 1;
    splitee_result *one = run(t, set, 2, pols, 4, &rc);
    rc.threads = 2;
    splitee_result *two = run(t, set, 2, pols, 4, &rc);
    rc.threads = 5;
    splitee_result *five = run(t, set, 2, pols, 4, &rc);
    for (int s = 0; s < 2; s++) {
        assert_same_results(&one[s], &two[s], 4);
        assert_same_results(&one[s], &five[s], 4);
    }
    splitee_results_free(one, 2);
    splitee_results_free(two, 2);
    splitee_results_free(five, 2);
    splitee_table_free(t);
}

Test(replay, seed_changes_shuffles_and_policies_share_them)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    splitee_policy_config pols[2] = { policy("random"), policy("final") };
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 1;
    rc.trace = 1;
    splitee_result *a = run(t, &set, 1, pols, 2, &rc);
    rc.seed = 2;
    splitee_result *b = run(t, &set, 1, pols, 2, &rc);
    int same_order = 1, perm[N] = { 0 };
    for (int i = 0; i < N; i++) {
        same_order &= a->policies[0].trace[i].sample == b->policies[0].trace[i].sample;
        cr_assert_eq(a->policies[0].trace[i].sample, a->policies[1].trace[i].sample,
                     "policies of one repetition see the same order");
        perm[a->policies[0].trace[i].sample]++;
    }
    cr_assert(!same_order, "another seed gives another order");
    for (int s = 0; s < N; s++)
        cr_assert_eq(perm[s], 1, "each sample once per repetition");
    splitee_results_free(a, 1);
    splitee_results_free(b, 1);
    splitee_table_free(t);
}

Test(replay, play_once_init_tries_every_arm_first)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    splitee_policy_config pc = policy("splitee");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 1;
    rc.trace = 1;
    splitee_result *res = run(t, &set, 1, &pc, 1, &rc);
    for (int a = 0; a < L; a++)
        cr_assert_eq(res->policies[0].trace[a].arm, a);
    splitee_results_free(res, 1);
    splitee_table_free(t);
}

Test(replay, curves_end_at_the_final_metrics)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    splitee_policy_config pc = policy("splitee-s");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 5;
    rc.checkpoints = 7;
    splitee_result *res = run(t, &set, 1, &pc, 1, &rc);
    cr_assert_eq(res->checkpoints, 7);
    cr_assert_eq(res->checkpoint_rounds[6], (size_t)N);
    for (int k = 1; k < 7; k++)
        cr_assert_gt(res->checkpoint_rounds[k], res->checkpoint_rounds[k - 1]);
    const double *last = res->policies[0].curves + 6 * SPLITEE_CURVE_KINDS * 3;
    const splitee_policy_result *pr = &res->policies[0];
    cr_assert_float_eq(last[SPLITEE_CURVE_PSEUDO_REGRET * 3], pr->pseudo_regret.mean, 1e-9);
    cr_assert_float_eq(last[SPLITEE_CURVE_REALIZED_REGRET * 3 + 1], pr->realized_regret.lo, 1e-9);
    cr_assert_float_eq(last[SPLITEE_CURVE_ACCURACY * 3 + 2], pr->accuracy.hi, 1e-12);
    cr_assert_float_eq(last[SPLITEE_CURVE_COST * 3], pr->cost.mean, 1e-12);
    splitee_results_free(res, 1);
    splitee_table_free(t);
}

Test(replay, ee_threshold_never_offloads)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.alpha = 0.6;
    splitee_policy_config pc = policy("ee-threshold");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 2;
    splitee_result *res = run(t, &set, 1, &pc, 1, &rc);
    const splitee_policy_result *pr = &res->policies[0];
    cr_assert_eq(pr->offload_rate.mean, 0);
    cr_assert_eq(pr->exit_hist[L], 0);
    double total = 0;
    for (int a = 0; a < L; a++)
        total += pr->exit_hist[a];
    cr_assert_float_eq(total, N, 1e-9);
    cr_assert_lt(pr->cost.mean, res->final_cost);
    splitee_results_free(res, 1);
    splitee_table_free(t);
}

Test(replay, unlabelled_table_reports_no_accuracy)
{
    splitee_table *t = synthetic(0);
    splitee_setting set;
    splitee_setting_default(&set);
    splitee_policy_config pc = policy("splitee");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 2;
    splitee_result *res = run(t, &set, 1, &pc, 1, &rc);
    cr_assert_eq(res->has_labels, 0);
    cr_assert(isnan(res->policies[0].accuracy.mean));
    cr_assert(!isnan(res->policies[0].cost.mean));
    splitee_results_free(res, 1);
    splitee_table_free(t);
}

Test(replay, rejects_bad_configuration_before_running)
{
    splitee_table *t = synthetic(1);
    splitee_replay *rp;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, NULL), 0);
    splitee_setting set;
    splitee_setting_default(&set);
    splitee_policy_config pc = policy("splitee");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    splitee_result *res = (splitee_result *)1;
    splitee_error e;
    rc.repetitions = 0;
    cr_assert_eq(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &e), SPLITEE_ERR_ARG);
    cr_assert_null(res);
    splitee_replay_config_default(&rc);
    set.reward.alpha = -0.1;
    cr_assert_eq(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "alpha"));
    splitee_setting_default(&set);
    pc = policy("fixed:9");     /* the table has 6 layers */
    cr_assert_lt(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &e), 0);
    splitee_replay_free(rp);
    splitee_table_free(t);
}

/* Regression (issue 8): rewards near the double range overflow when summed
 * over the rounds; the replay refuses with the policy, metric and setting
 * named instead of returning inf and NaN. lambda 0 (a final exit that
 * costs nothing) still runs, its cost reduction undefined (NaN). */
Test(replay, non_finite_metrics_are_an_error)
{
    splitee_table *t = synthetic(1);
    splitee_replay *rp;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, NULL), 0);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.mu = 1e307;   /* rewards of about -1e307 on each of N rounds */
    splitee_policy_config pc = policy("splitee");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 2;
    splitee_result *res = (splitee_result *)1;
    splitee_error e;
    cr_assert_eq(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &e), SPLITEE_ERR_VALUE);
    cr_assert_null(res);
    cr_assert(strstr(e.msg, "splitee's") && strstr(e.msg, "not a finite number at setting 1"), "%s", e.msg);
    splitee_setting_default(&set);
    set.reward.lambda = 0;
    cr_assert_eq(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &e), 0, "%s", e.msg);
    cr_assert(isfinite(res[0].policies[0].pseudo_regret.mean));
    splitee_results_free(res, 1);
    splitee_replay_free(rp);
    splitee_table_free(t);
}

/* ---- a changing world: segments and dynamic regret ------------------- */

/* The synthetic table's samples seen otherwise: the deep exits lose their
 * confidence (as under noise), so the best fixed arm moves. */
static splitee_table *degraded(int with_labels, size_t n, int exits)
{
    static double logits[N * L * K];
    static int32_t labels[N];
    unsigned x = 777;
    for (int s = 0; s < N; s++) {
        labels[s] = s % K;
        for (int e = 0; e < L; e++)
            for (int k = 0; k < K; k++) {
                x = x * 1103515245u + 12345u;
                double u = (x >> 8) / 16777216.0;
                logits[(s * L + e) * K + k] = 3 * u + (k == labels[s] ? 2.5 * (e == 0 || e == L - 1) : 0);
            }
    }
    splitee_table *t;
    splitee_error e;
    cr_assert_eq(splitee_table_from_logits("degraded", logits, n, exits, K,
                                           with_labels ? labels : NULL, &t, &e), 0, "%s", e.msg);
    return t;
}

static splitee_result *run_shifted(splitee_table *a, splitee_table *b, size_t at,
                                   const splitee_setting *set, const splitee_policy_config *pols,
                                   int np, int reps)
{
    splitee_replay *rp;
    splitee_error e;
    cr_assert_eq(splitee_replay_prepare(a, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee_replay_add_segment(rp, at, b, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee_replay_segments(rp), 2);
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = reps;
    splitee_result *res;
    cr_assert_eq(splitee_replay_run(rp, set, 1, pols, np, &rc, &res, &e), 0, "%s", e.msg);
    splitee_replay_free(rp);
    return res;
}

/* Naive fixed-arm means of one table under rw. */
static void naive_means(splitee_table *t, const splitee_reward *rw, long double *mean)
{
    static double conf[N * L];
    static int32_t pred[N * L];
    splitee_table_confidences(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, conf, pred);
    for (int a = 0; a < L; a++)
        mean[a] = 0;
    for (int s = 0; s < N; s++)
        for (int a = 0; a < L; a++)
            mean[a] += splitee_reward_outcome(rw, a, conf + s * L).reward / (long double)N;
}

static int argmax_ld(const long double *m)
{
    int best = 0;
    for (int a = 1; a < L; a++)
        if (m[a] > m[best])
            best = a;
    return best;
}

/* Every fixed arm's static and dynamic pseudo regret against sums written
 * out here: sum over segments of rounds x (mean of the best arm - mean of
 * the arm), the best arm fixed over the stream or per segment. */
Test(replay, dynamic_regret_of_fixed_arms_matches_naive)
{
    splitee_table *a = synthetic(1), *b = degraded(1, N, L);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.alpha = 0.55;
    set.reward.offload = 0.2;
    set.reward.lambda = 0.02;
    splitee_reward rw;
    cr_assert_eq(splitee_reward_init(&rw, &set.reward, L, NULL), 0);
    long double ma[L], mb[L], stream[L];
    naive_means(a, &rw, ma);
    naive_means(b, &rw, mb);
    const size_t at = 120;
    for (int k = 0; k < L; k++)
        stream[k] = (at * ma[k] + (N - at) * mb[k]) / N;
    int ba = argmax_ld(ma), bb = argmax_ld(mb), bs = argmax_ld(stream);
    cr_assert_neq(ba, bb, "the fixture should move the best arm");
    splitee_policy_config pols[L + 1];
    for (int k = 0; k < L; k++) {
        char name[16];
        snprintf(name, sizeof name, "fixed:%d", k + 1);
        pols[k] = policy(name);
    }
    pols[L] = policy("oracle");
    splitee_result *res = run_shifted(a, b, at, &set, pols, L + 1, 3);
    cr_assert_eq(res->segments, 2);
    cr_assert_eq(res->segment[0].best_arm, ba);
    cr_assert_eq(res->segment[1].best_arm, bb);
    cr_assert_eq(res->segment[1].start, at);
    cr_assert_eq(res->segment[1].rounds, N - at);
    cr_assert_eq(res->best_arm, bs);
    for (int k = 0; k < L; k++) {
        cr_assert_float_eq(res->arm_mean[k], (double)stream[k], 1e-12);
        cr_assert_float_eq(res->segment[1].arm_mean[k], (double)mb[k], 1e-12);
    }
    for (int p = 0; p <= L; p++) {
        int k = p < L ? p : bs;   /* the oracle plays the stream's best arm */
        double stat = (double)(at * (ma[bs] - ma[k]) + (N - at) * (mb[bs] - mb[k]));
        double dyn = (double)(at * (ma[ba] - ma[k]) + (N - at) * (mb[bb] - mb[k]));
        const splitee_policy_result *pr = &res->policies[p];
        cr_assert_float_eq(pr->pseudo_regret.mean, stat, 1e-9, "%s", pr->name);
        cr_assert_float_eq(pr->dynamic_pseudo_regret.mean, dyn, 1e-9, "%s", pr->name);
        cr_assert_geq(pr->dynamic_pseudo_regret.mean, -1e-9);
        /* curves end at the totals */
        const double *last = pr->curves + (size_t)(res->checkpoints - 1) * SPLITEE_CURVE_KINDS * 3;
        cr_assert_float_eq(last[SPLITEE_CURVE_DYNAMIC_PSEUDO_REGRET * 3], dyn, 1e-9);
    }
    splitee_results_free(res, 1);
    splitee_table_free(a);
    splitee_table_free(b);
}

/* A shift to the very same table changes no number (up to the rounding of
 * weighting the segments), and dynamic regret is then the static one. */
Test(replay, shift_to_same_table_changes_nothing)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.alpha = 0.55;
    splitee_policy_config pols[4] = { policy("splitee"), policy("sw-ucb"), policy("d-ucb"),
                                      policy("thompson") };
    pols[1].window = 50;
    pols[2].discount = 0.98;
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 4;
    splitee_result *plain = run(t, &set, 1, pols, 4, &rc);
    splitee_result *shifted = run_shifted(t, t, 77, &set, pols, 4, 4);
    cr_assert_eq(plain->segments, 1);
    for (int p = 0; p < 4; p++) {
        const splitee_policy_result *x = &plain->policies[p], *y = &shifted->policies[p];
        cr_assert_eq(x->accuracy.mean, y->accuracy.mean, "%s", x->name);
        cr_assert_eq(x->cost.mean, y->cost.mean, "%s", x->name);
        cr_assert_float_eq(x->pseudo_regret.mean, y->pseudo_regret.mean, 1e-9, "%s", x->name);
        cr_assert_float_eq(x->realized_regret.mean, y->realized_regret.mean, 1e-9, "%s", x->name);
        cr_assert_float_eq(y->dynamic_pseudo_regret.mean, y->pseudo_regret.mean, 1e-9);
        cr_assert_float_eq(y->dynamic_realized_regret.mean, y->realized_regret.mean, 1e-9);
        cr_assert_eq(x->dynamic_pseudo_regret.mean, x->pseudo_regret.mean);
    }
    splitee_results_free(plain, 1);
    splitee_results_free(shifted, 1);
    splitee_table_free(t);
}

/* Shifts the stream cannot take are refused with a message naming the
 * table, and leave the replay as it was. */
Test(replay, add_segment_rejects_bad_shifts)
{
    splitee_table *t = synthetic(1), *ok = degraded(1, N, L), *fewer = degraded(1, N - 1, L),
                  *shallow = degraded(1, N, L - 1), *unlabelled = degraded(0, N, L);
    splitee_replay *rp;
    splitee_error e;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e), 0);
    cr_assert_eq(splitee_replay_add_segment(rp, 0, ok, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_replay_add_segment(rp, N, ok, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_replay_add_segment(rp, 10, fewer, &e), SPLITEE_ERR_SHAPE);
    cr_assert(strstr(e.msg, "degraded") != NULL, "%s", e.msg);
    cr_assert_eq(splitee_replay_add_segment(rp, 10, shallow, &e), SPLITEE_ERR_SHAPE);
    cr_assert_eq(splitee_replay_add_segment(rp, 10, unlabelled, &e), SPLITEE_ERR_SHAPE);
    cr_assert_eq(splitee_replay_segments(rp), 1);
    cr_assert_eq(splitee_replay_add_segment(rp, 100, ok, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee_replay_add_segment(rp, 100, ok, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_replay_add_segment(rp, 50, ok, &e), SPLITEE_ERR_ARG);
    for (int k = 2; k < SPLITEE_MAX_SEGMENTS; k++)
        cr_assert_eq(splitee_replay_add_segment(rp, 100 + k, k % 2 ? ok : t, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee_replay_add_segment(rp, 200, ok, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_replay_segments(rp), SPLITEE_MAX_SEGMENTS);
    splitee_replay_free(rp);
    splitee_table_free(t);
    splitee_table_free(ok);
    splitee_table_free(fewer);
    splitee_table_free(shallow);
    splitee_table_free(unlabelled);
}

/* ---- exit rules ------------------------------------------------------------ */

/* The rule's decision at exit i from its definition (exit.h), for the
 * settings below: threshold alpha, patience 2, agreement sum alpha. */
static int naive_rule(splitee_exit_kind kind, double alpha, int i, const double *c, const int32_t *y)
{
    if (kind == SPLITEE_EXIT_KIND_THRESHOLD)
        return c[i] >= alpha;
    if (kind == SPLITEE_EXIT_KIND_PATIENCE)
        return i >= 2 && y[i - 2] == y[i] && y[i - 1] == y[i];
    int s = i;
    while (s > 0 && y[s - 1] == y[i])
        s--;
    double sum = 0;
    for (int j = s; j <= i; j++)
        sum += c[j];
    return sum >= alpha;
}

/* Every fixed arm and ee-threshold under `kind`, replayed naively in the
 * table's order: same accuracy, cost, offload rate and exits. */
static void check_rule_naive(splitee_exit_kind kind, double alpha, splitee_confidence measure)
{
    splitee_table *t = synthetic(1);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.exit.kind = kind;
    set.reward.exit.patience = 2;
    set.reward.alpha = alpha;
    set.reward.offload = 0.2;
    set.reward.exit.confidence = measure;
    const int32_t *lab = splitee_table_labels(t);
    static double conf[N * L];
    static int32_t pred[N * L];
    splitee_table_confidences(t, measure, conf, pred);
    splitee_replay *rp;
    splitee_error e;
    cr_assert_eq(splitee_replay_prepare(t, measure, &rp, &e), 0, "%s", e.msg);
    cr_assert_eq(memcmp(splitee_replay_predictions(rp), pred, sizeof pred), 0);
    cr_assert_eq(memcmp(splitee_replay_confidences(rp), conf, sizeof conf), 0);
    cr_assert_eq(splitee_replay_measure(rp), measure);
    splitee_reward rw;
    cr_assert_eq(splitee_reward_init(&rw, &set.reward, L, NULL), 0);
    long fired = 0;
    for (int arm = 0; arm <= L; arm++) {      /* arm L: ee-threshold */
        int correct = 0, off = 0;
        long double cost = 0, reward = 0;
        double hist[L + 1] = { 0 };
        for (int s = 0; s < N; s++) {
            const double *c = conf + s * L;
            const int32_t *y = pred + s * L;
            int exit, offloaded;
            if (arm == L) {
                exit = L - 1;
                for (int j = L - 1; j >= 0; j--)
                    if (naive_rule(kind, alpha, j, c, y))
                        exit = j;
                offloaded = 0;
            } else {
                offloaded = arm < L - 1 && !naive_rule(kind, alpha, arm, c, y);
                exit = offloaded ? L - 1 : arm;
            }
            fired += arm < L - 1 && !offloaded;
            int played = arm == L ? exit : arm;
            double g = rw.gamma[played], o = offloaded ? rw.offload[played] : 0;
            off += offloaded;
            correct += y[exit] == lab[s];
            cost += g + o;
            reward += offloaded ? c[L - 1] - rw.mu * o - rw.mu * g : c[exit] - rw.mu * g;
            hist[offloaded ? L : exit]++;
        }
        char name[16];
        snprintf(name, sizeof name, "fixed:%d", arm + 1);
        splitee_policy_config pc = policy(arm == L ? "ee-threshold" : name);
        splitee_replay_config rc;
        splitee_replay_config_default(&rc);
        rc.repetitions = 2;
        splitee_result *res;
        cr_assert_eq(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &e), 0, "%s", e.msg);
        const splitee_policy_result *pr = &res->policies[0];
        cr_assert_float_eq(pr->accuracy.mean, correct / (double)N, 1e-12, "%s arm %d",
                           splitee_exit_kind_name(kind), arm);
        cr_assert_float_eq(pr->cost.mean, (double)(cost / N), 1e-12);
        cr_assert_float_eq(pr->reward.mean, (double)(reward / N), 1e-12);
        cr_assert_float_eq(pr->offload_rate.mean, off / (double)N, 1e-12);
        for (int a = 0; a <= L; a++)
            cr_assert_float_eq(pr->exit_hist[a], hist[a], 1e-9, "arm %d exit %d", arm, a);
        cr_assert_eq(res->reward.exit.kind, kind);
        splitee_results_free(res, 1);
    }
    cr_assert_gt(fired, N / 4, "the rule accepted too few exits to test it");
    splitee_replay_free(rp);
    splitee_table_free(t);
}

Test(replay, threshold_rule_matches_naive_replay)
{
    check_rule_naive(SPLITEE_EXIT_KIND_THRESHOLD, 0.45, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
    check_rule_naive(SPLITEE_EXIT_KIND_THRESHOLD, 0.1, SPLITEE_CONFIDENCE_ENTROPY);
}

Test(replay, patience_rule_matches_naive_replay)
{
    check_rule_naive(SPLITEE_EXIT_KIND_PATIENCE, 0.8, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
}

Test(replay, agreement_rule_matches_naive_replay)
{
    check_rule_naive(SPLITEE_EXIT_KIND_AGREEMENT, 1.2, SPLITEE_CONFIDENCE_MARGIN);
}

Test(replay, the_rules_measure_is_the_replays)
{
    splitee_table *t = synthetic(1);
    splitee_setting a, b;
    splitee_setting_default(&a);
    a.reward.alpha = 0.3;
    b = a;
    b.reward.exit.confidence = SPLITEE_CONFIDENCE_MARGIN;   /* not read: prepared with entropy */
    splitee_replay *rp;
    splitee_error e;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_ENTROPY, &rp, &e), 0, "%s", e.msg);
    splitee_policy_config pc = policy("splitee");
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 2;
    splitee_setting both[2] = { a, b };
    splitee_result *res;
    cr_assert_eq(splitee_replay_run(rp, both, 2, &pc, 1, &rc, &res, &e), 0, "%s", e.msg);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(res[i].reward.exit.confidence, SPLITEE_CONFIDENCE_ENTROPY);
    cr_assert_eq(res[0].policies[0].reward.mean, res[1].policies[0].reward.mean);
    splitee_results_free(res, 2);
    splitee_replay_free(rp);
    cr_assert_eq(splitee_replay_prepare(t, (splitee_confidence)7, &rp, &e), SPLITEE_ERR_ARG);
    cr_assert(strstr(e.msg, "confidence measure"), "%s", e.msg);
    splitee_replay_free(NULL);
    splitee_table_free(t);
}

/* ---- stream rules on a stream table (temporal.h) -------------------------- */

#define SN 400
#define SL 5
#define SK 4

/* A stream table: scenes of 1..15 frames, each a class every exit shows
 * with noise shrinking along the exits; labels the scene's class, except
 * a few frames labelled otherwise (so accuracy is not agreement). */
static splitee_table *stream_table(uint64_t seed, int32_t *scenes)
{
    static double z[SN * SL * SK];
    static int32_t labels[SN];
    int cls = 0, left = 0, id = -1;
    for (int t = 0; t < SN; t++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        if (left-- <= 0) {
            cls = (int)((seed >> 33) % SK);
            left = 1 + (int)((seed >> 20) % 15);
            id++;
        }
        scenes[t] = id;
        labels[t] = t % 17 == 0 ? (cls + 1) % SK : cls;
        for (int e = 0; e < SL; e++)
            for (int k = 0; k < SK; k++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                double u = (double)(seed >> 11) * 0x1p-53;
                z[((size_t)t * SL + e) * SK + k] = (k == cls ? 1.5 : 0.0) + (2.5 / (e + 1)) * (2 * u - 1);
            }
    }
    splitee_table *t;
    splitee_error e;
    cr_assert_eq(splitee_table_from_logits("stream", z, SN, SL, SK, labels, &t, &e), 0, "%s", e.msg);
    return t;
}

static int s_argmax(const double *z)
{
    int m = 0;
    for (int k = 1; k < SK; k++)
        if (z[k] > z[m])
            m = k;
    return m;
}

static double s_l1(const double *a, const double *b)
{
    double ea[SK], eb[SK], sa = 0, sb = 0, d = 0;
    for (int k = 0; k < SK; k++) {
        sa += ea[k] = exp(a[k]);
        sb += eb[k] = exp(b[k]);
    }
    for (int k = 0; k < SK; k++)
        d += fabs(ea[k] / sa - eb[k] / sb);
    return d;
}

/* A naive replay of a stream rule over frames [from, to): accuracy,
 * layers, re-runs, scene changes caught. */
static void naive_temporal(const splitee_table *t, splitee_exit_kind kind, double theta, size_t from, size_t to,
                           const int32_t *scenes, splitee_temporal_result *out)
{
    const double *z = splitee_table_logits(t);
    const int32_t *y = splitee_table_labels(t);
    long right = 0, layers = 0, reruns = 0, changes = 0, caught = 0;
    long ref = -1;
    int probe = 0, ref_label = -1;
    for (size_t s = from; s < to; s++) {
        const double *row = z + s * SL * SK;
        int label, rerun = 1;
        if (ref >= 0 && probe < SL - 1 && s_l1(row + probe * SK, z + ((size_t)ref * SL + probe) * SK) < theta &&
            (kind == SPLITEE_EXIT_KIND_DIFFERENCE || s_argmax(row + probe * SK) == ref_label))
            rerun = 0;
        if (rerun) {
            ref = (long)s;
            ref_label = s_argmax(row + (SL - 1) * SK);
            probe = 0;
            if (kind == SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE) {
                probe = SL - 1;
                for (int e = SL - 2; e >= 0; e--)
                    if (s_argmax(row + e * SK) == ref_label)
                        probe = e;
            }
            layers += SL;
        } else {
            layers += probe + 1;
        }
        label = ref_label;
        right += label == y[s];
        reruns += rerun;
        if (s > from && scenes[s] != scenes[s - 1]) {
            changes++;
            caught += rerun;
        }
    }
    double m = (double)(to - from);
    out->accuracy = right / m;
    out->mean_layers = layers / m;
    out->rerun_rate = reruns / m;
    out->change_recall = changes ? (double)caught / changes : NAN;
}

static splitee_exit_rule rule_of(splitee_exit_kind kind, double theta)
{
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    c.kind = kind;
    c.theta = theta;
    splitee_exit_rule r;
    splitee_error e;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, SL, &e), 0, "%s", e.msg);
    return r;
}

Test(replay, stream_rules_match_naive_replay)
{
    static int32_t scenes[SN];
    splitee_table *t = stream_table(42, scenes);
    const splitee_exit_kind kinds[] = { SPLITEE_EXIT_KIND_DIFFERENCE, SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE };
    for (int ki = 0; ki < 2; ki++)
        for (double theta = 0; theta <= 2.0; theta += 0.25) {
            splitee_exit_rule r = rule_of(kinds[ki], theta);
            for (size_t from = 0; from < 300; from += 150) {
                splitee_temporal_result got, want;
                splitee_error e;
                static splitee_exit_frame fr[SN];
                cr_assert_eq(splitee_temporal_run(t, &r, from, SN, scenes, fr, &got, &e), 0, "%s", e.msg);
                naive_temporal(t, kinds[ki], theta, from, SN, scenes, &want);
                cr_assert_float_eq(got.accuracy, want.accuracy, 1e-12, "%s theta %g", splitee_exit_kind_name(kinds[ki]), theta);
                cr_assert_float_eq(got.mean_layers, want.mean_layers, 1e-12);
                cr_assert_float_eq(got.relative_cost, want.mean_layers / SL, 1e-12);
                cr_assert_float_eq(got.rerun_rate, want.rerun_rate, 1e-12);
                cr_assert_float_eq(got.change_recall, want.change_recall, 1e-12);
                cr_assert_eq(got.frames, SN - from);
                double share = 0;
                for (int e2 = 0; e2 < SL; e2++)
                    share += got.exit_share[e2];
                cr_assert_float_eq(share, 1.0, 1e-12);
                cr_assert_eq(fr[0].rerun, 1);   /* a stream starts with the whole model */
            }
        }
    /* without scene ids, no recall; the threshold rule replays as ee-threshold */
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    c.alpha = 0.6;
    splitee_exit_rule thr;
    splitee_error e;
    cr_assert_eq(splitee_exit_rule_init(&thr, &c, SL, &e), 0);
    splitee_temporal_result res;
    cr_assert_eq(splitee_temporal_run(t, &thr, 0, SN, NULL, NULL, &res, &e), 0);
    cr_assert(isnan(res.change_recall));
    long layers = 0, right = 0;
    for (int s = 0; s < SN; s++) {
        const double *row = splitee_table_logits(t) + (size_t)s * SL * SK;
        int ex = SL - 1;
        for (int j = 0; j < SL - 1; j++)
            if (splitee_confidence_of(row + j * SK, SK, SPLITEE_CONFIDENCE_MAX_SOFTMAX, NULL) >= 0.6) {
                ex = j;
                break;
            }
        layers += ex + 1;
        right += s_argmax(row + ex * SK) == splitee_table_labels(t)[s];
    }
    cr_assert_float_eq(res.mean_layers, (double)layers / SN, 1e-12);
    cr_assert_float_eq(res.accuracy, (double)right / SN, 1e-12);
    /* bad ranges */
    splitee_exit_rule r = rule_of(SPLITEE_EXIT_KIND_DIFFERENCE, 0.5);
    cr_assert_eq(splitee_temporal_run(t, &r, 5, 5, NULL, NULL, &res, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_temporal_run(t, &r, 0, SN + 1, NULL, NULL, &res, &e), SPLITEE_ERR_ARG);
    splitee_table_free(t);
}

Test(replay, policy_replay_refuses_stream_rules)
{
    splitee_table *t = synthetic(1);
    splitee_replay *rp;
    splitee_error e;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e), 0);
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.exit.kind = SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE;
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.order = SPLITEE_ORDER_GIVEN;
    splitee_result *res = NULL;
    cr_assert_eq(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &e), SPLITEE_ERR_ARG);
    cr_assert(strstr(e.msg, "exit rule temporal-patience keeps state across frames"), "%s", e.msg);
    cr_assert_null(res);
    splitee_replay_free(rp);
    splitee_table_free(t);
}

Test(replay, pareto_front_matches_brute_force)
{
    uint64_t x = 5;
    double cost[40], acc[40];
    int front[40];
    for (int rep = 0; rep < 50; rep++) {
        int n = 1 + rep % 40;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            cost[i] = (double)((x >> 40) % 8) / 8;   /* ties on purpose */
            acc[i] = (double)((x >> 20) % 8) / 8;
        }
        int count = splitee_pareto_front(cost, acc, n, front), want_count = 0;
        for (int i = 0; i < n; i++) {
            int dominated = 0;
            for (int j = 0; j < n; j++)
                dominated |= (cost[j] < cost[i] && acc[j] >= acc[i]) || (cost[j] <= cost[i] && acc[j] > acc[i]);
            cr_assert_eq(front[i], !dominated, "point %d of %d", i, n);
            want_count += !dominated;
        }
        cr_assert_eq(count, want_count);
        cr_assert_geq(count, 1);
    }
}

Test(replay, temporal_calibration_matches_brute_force)
{
    static int32_t scenes[SN];
    splitee_table *t = stream_table(7, scenes);
    const splitee_exit_kind kinds[] = { SPLITEE_EXIT_KIND_DIFFERENCE, SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE };
    const double *z = splitee_table_logits(t);
    for (int ki = 0; ki < 2; ki++) {
        const size_t nc = 250;
        const int grid = 9;
        splitee_temporal_calibration c;
        splitee_error e;
        cr_assert_eq(splitee_temporal_calibrate(t, scenes, nc, kinds[ki], grid, &c, &e), 0, "%s", e.msg);
        /* the fits: sample mean and sd of each kind of consecutive-frame distance, bounds averaged over exits */
        int fitted = ki == 0 ? 1 : SL;
        cr_assert_eq(c.exits_fitted, fitted);
        double lo = 0, hi = 0;
        for (int ex = 0; ex < fitted; ex++) {
            double sw = 0, sc = 0, qw = 0, qc = 0;
            long nw = 0, ncg = 0;
            for (size_t s = 1; s < nc; s++) {
                double d = s_l1(z + ((s - 1) * SL + ex) * SK, z + (s * SL + ex) * SK);
                if (scenes[s] == scenes[s - 1])
                    sw += d, qw += d * d, nw++;
                else
                    sc += d, qc += d * d, ncg++;
            }
            double mw = sw / nw, mc = sc / ncg;
            double sdw = sqrt((qw - nw * mw * mw) / (nw - 1)), sdc = sqrt((qc - ncg * mc * mc) / (ncg - 1));
            lo += mw - 2 * sdw;
            hi += mc - 1.5 * sdc;
            cr_assert_eq(c.within_n, nw);
            cr_assert_eq(c.change_n, ncg);
        }
        lo = fmin(fmax(lo / fitted, 0), 2);
        hi = fmin(fmax(hi / fitted, 0), 2);
        cr_assert_float_eq(c.lo, fmin(lo, hi), 1e-9);
        cr_assert_float_eq(c.hi, fmax(lo, hi), 1e-9);
        cr_assert_eq(c.npoints, grid);
        /* every point is the naive replay at its theta; the front and the pick by brute force */
        int best = -1;
        for (int g = 0; g < grid; g++) {
            double theta = c.lo + (c.hi - c.lo) * g / (grid - 1);
            cr_assert_float_eq(c.points[g].theta, theta, 1e-12);
            splitee_temporal_result want;
            naive_temporal(t, kinds[ki], theta, 0, nc, scenes, &want);
            cr_assert_float_eq(c.points[g].accuracy, want.accuracy, 1e-12);
            cr_assert_float_eq(c.points[g].relative_cost, want.mean_layers / SL, 1e-12);
            int dominated = 0;
            for (int h = 0; h < grid; h++) {
                const splitee_temporal_point *p = &c.points[h], *q = &c.points[g];
                dominated |= (p->relative_cost <= q->relative_cost && p->accuracy >= q->accuracy) &&
                             (p->relative_cost < q->relative_cost || p->accuracy > q->accuracy);
            }
            cr_assert_eq(c.points[g].front, !dominated);
        }
        for (int g = 0; g < grid; g++)
            if (c.points[g].front &&
                (best < 0 || c.points[g].accuracy / c.points[g].relative_cost >
                                 c.points[best].accuracy / c.points[best].relative_cost))
                best = g;
        cr_assert_eq(c.best, best);
        splitee_temporal_calibration_free(&c);
    }
    splitee_table_free(t);
}

Test(replay, temporal_calibration_refuses_bad_input)
{
    static int32_t scenes[SN];
    splitee_table *t = stream_table(3, scenes);
    splitee_temporal_calibration c;
    splitee_error e;
    cr_assert_eq(splitee_temporal_calibrate(t, NULL, 100, SPLITEE_EXIT_KIND_DIFFERENCE, 5, &c, &e), SPLITEE_ERR_ARG);
    cr_assert_str_eq(e.msg, "stream: calibrating theta needs the frames' scene ids");
    cr_assert_eq(splitee_temporal_calibrate(t, scenes, 100, SPLITEE_EXIT_KIND_DIFFERENCE, 0, &c, &e), SPLITEE_ERR_ARG);
    cr_assert_str_eq(e.msg, "calibrate: the theta grid is empty (0 points)");
    cr_assert_eq(splitee_temporal_calibrate(t, scenes, 100, SPLITEE_EXIT_KIND_THRESHOLD, 5, &c, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_temporal_calibrate(t, scenes, SN + 1, SPLITEE_EXIT_KIND_DIFFERENCE, 5, &c, &e),
                 SPLITEE_ERR_ARG);
    static int32_t one[SN];   /* one scene: no change to fit */
    cr_assert_eq(splitee_temporal_calibrate(t, one, 100, SPLITEE_EXIT_KIND_DIFFERENCE, 5, &c, &e), SPLITEE_ERR_VALUE);
    cr_assert_str_eq(e.msg, "stream: the 100 calibration frames hold no scene change (give more frames)");
    cr_assert_null(c.points);
    splitee_table_free(t);
    /* scene ids from a file: shape and type checked */
    int64_t ids[4] = { 0, 0, 1, 1 };
    size_t len;
    unsigned char *img = tu_npy_image("<i8", 0, 1, (size_t[]){ 4 }, ids, sizeof ids, &len);
    const char *p = tu_write("scenes.npy", img, len);
    free(img);
    int32_t *got;
    cr_assert_eq(splitee_scenes_load(p, 4, &got, &e), 0, "%s", e.msg);
    cr_assert_eq(got[2], 1);
    free(got);
    cr_assert_eq(splitee_scenes_load(p, 5, &got, &e), SPLITEE_ERR_SHAPE);
    cr_assert_null(got);
    int64_t neg[2] = { 0, -1 };
    img = tu_npy_image("<i8", 0, 1, (size_t[]){ 2 }, neg, sizeof neg, &len);
    p = tu_write("neg.npy", img, len);
    free(img);
    cr_assert_eq(splitee_scenes_load(p, 2, &got, &e), SPLITEE_ERR_VALUE);
}

/* replay.c's inlined shuffle, the sample order of every shuffled replay. */
void splitee__shuffle_u32(gsl_rng *rng, uint32_t *ord, size_t n);

Test(replay, shuffle_matches_gsl_ran_shuffle)
{
    static const size_t sizes[] = { 1, 2, 3, 17, 1000, 10000 }; /* gsl: n >= 1 */
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const size_t n = sizes[si];
        for (unsigned long seed = 0; seed < 5; seed++) {
            uint32_t *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
            cr_assert(a && b);
            for (size_t i = 0; i < n; i++)
                a[i] = b[i] = (uint32_t)i;
            gsl_rng *ra = gsl_rng_alloc(gsl_rng_mt19937), *rb = gsl_rng_alloc(gsl_rng_mt19937);
            cr_assert(ra && rb);
            gsl_rng_set(ra, seed * 7919 + 1);
            gsl_rng_set(rb, seed * 7919 + 1);
            gsl_ran_shuffle(ra, a, n, sizeof *a);
            splitee__shuffle_u32(rb, b, n);
            cr_assert(memcmp(a, b, n * sizeof *a) == 0, "n %zu seed %lu", n, seed);
            /* the generators are left in the same state */
            cr_assert_eq(gsl_rng_get(ra), gsl_rng_get(rb), "n %zu seed %lu", n, seed);
            gsl_rng_free(ra);
            gsl_rng_free(rb);
            free(a);
            free(b);
        }
    }
}
