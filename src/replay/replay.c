/* replay.c -- the replay harness: streams an exit-logit table through
 * policies, repetition by repetition, and summarises what happened.
 *
 * Work is split into jobs, one per (setting, policy, repetition). A job owns
 * its policy and generator, writes only its own slot of the raw per-job
 * outputs, and never allocates inside the round loop. Jobs are handed to
 * worker threads through an atomic counter; when all are done the main
 * thread combines the slots in a fixed order, so the numbers do not depend
 * on how many threads ran or which thread ran what. */
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/internal.h"
#include "core/stats.h"
#include "splitee/replay.h"

/* One table of the stream: rounds start.. draw their samples from it. */
typedef struct rp_segment {
    size_t start;      /* first round, 0-based */
    double *conf;      /* (n, L) */
    int32_t *pred;     /* (n, L) every exit's prediction, for rules that read them */
    uint8_t *correct;  /* (n, L), or NULL without labels */
    char name[256];    /* the table's name */
} rp_segment;

struct splitee_replay {
    size_t n;          /* samples */
    int exits;         /* L */
    int has_labels;
    double *conf;      /* (n, L) confidence of every exit */
    int32_t *pred;     /* (n, L) argmax of every exit */
    uint8_t *correct;  /* (n, L) 1 if exit's argmax == label; NULL without labels */
    splitee_confidence kind; /* the measure of conf: every setting's exit rule uses it */
    int nseg;          /* segments of the stream, >= 1; seg[0] aliases conf/pred/correct */
    rp_segment seg[SPLITEE_MAX_SEGMENTS];
};

/* Raw outcome of one repetition of one policy on one setting. */
typedef struct rep_out {
    double accuracy, cost, reward, offload, pseudo, realized;
    double dyn_pseudo, dyn_realized;          /* against each segment's best */
    int learned;                              /* most played arm */
    double plays[SPLITEE_MAX_EXITS];
    double hist[SPLITEE_MAX_EXITS + 1];
} rep_out;

/* Per-setting quantities every job of that setting reads. */
typedef struct setting_ctx {
    splitee_reward rw;
    double arm_mean[SPLITEE_MAX_EXITS]; /* mean reward of each fixed arm */
    int best;                           /* argmax arm_mean */
    double ee_mean;                     /* mean reward of ee-threshold */
    double *rstar;                      /* (nseg, n) reward of the best arm per
                                           sample of each segment's table */
    double *rdyn;                       /* (nseg, n) same for the segment's own
                                           best arm; aliases rstar with one */
    double *seg_mean;                   /* (nseg, L) fixed-arm means per segment */
    double *seg_ee;                     /* (nseg) ee-threshold mean per segment */
    int *seg_best;                      /* (nseg) best arm per segment */
    /* With an offload schedule (cfg->offload_schedule): rw.offload holds
     * each arm's mean o over the rounds, and off_frac[a] the fraction of
     * samples arm a offloads, so that arm a's expected reward at round t
     * is arm_mean[a] + mu*off_frac[a]*(rw.offload[a] - o_a(t)). */
    double off_frac[SPLITEE_MAX_EXITS];
    double off_max[SPLITEE_MAX_EXITS];  /* largest o of each arm over the rounds */
} setting_ctx;

typedef struct run_ctx {
    const splitee_replay *rp;
    const splitee_setting *settings; /* (ns) */
    const splitee_policy_config *pols;
    int np, ns, reps;
    const splitee_replay_config *cfg;
    setting_ctx *sets;     /* (ns) */
    uint32_t *orders;      /* (reps, n) sample order of each repetition */
    size_t *ck;            /* (nck) checkpoint rounds */
    int nck;
    rep_out *outs;         /* (ns, np, reps) */
    double *raw_curves;    /* (ns, np, reps, nck, KINDS) */
    splitee_trace_row **traces; /* (np) for setting 0, repetition 0 */
    atomic_long next, done;
    atomic_int failed;
} run_ctx;

/* ------------------------------------------------------------ prepare --- */

/* Confidences (n, L), predictions (n, L) and, with labels, correctness
 * (n, L) of table t into the segment's fresh arrays; 0 or -1 (out of
 * memory, nothing left allocated). */
static int prepare_table(const splitee_table *t, splitee_confidence kind, rp_segment *sg)
{
    size_t n = splitee_table_samples(t), cells;
    int L = splitee_table_exits(t), K = splitee_table_classes(t);
    const int32_t *labels = splitee_table_labels(t);
    const double *logits = splitee_table_logits(t);
    sg->conf = NULL;
    sg->pred = NULL;
    sg->correct = NULL;
    if (splitee__mul_size(n, (size_t)L, &cells) < 0 || !(sg->conf = malloc(cells * sizeof *sg->conf)) ||
        !(sg->pred = malloc(cells * sizeof *sg->pred)) || (labels && !(sg->correct = malloc(cells)))) {
        free(sg->conf);
        free(sg->pred);
        sg->conf = NULL;
        sg->pred = NULL;
        return -1;
    }
    for (size_t s = 0; s < n; s++) {
        for (int e = 0; e < L; e++) {
            size_t i = s * (size_t)L + (size_t)e;
            sg->conf[i] = splitee_confidence_of(logits + i * (size_t)K, K, kind, &sg->pred[i]);
            if (labels)
                sg->correct[i] = sg->pred[i] == labels[s];
        }
    }
    return 0;
}

int splitee_replay_prepare(const splitee_table *t, splitee_confidence kind,
                           splitee_replay **out, splitee_error *err)
{
    *out = NULL;
    if ((unsigned)kind >= SPLITEE_CONFIDENCE_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: unknown confidence measure %d",
                             splitee_table_name(t), (int)kind);
    splitee_replay *rp = calloc(1, sizeof *rp);
    if (!rp || prepare_table(t, kind, &rp->seg[0]) < 0) {
        free(rp);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory preparing the replay",
                             splitee_table_name(t));
    }
    rp->conf = rp->seg[0].conf;
    rp->pred = rp->seg[0].pred;
    rp->correct = rp->seg[0].correct;
    rp->n = splitee_table_samples(t);
    rp->exits = splitee_table_exits(t);
    rp->has_labels = splitee_table_labels(t) != NULL;
    rp->kind = kind;
    rp->nseg = 1;
    rp->seg[0].start = 0;
    snprintf(rp->seg[0].name, sizeof rp->seg[0].name, "%s", splitee_table_name(t));
    *out = rp;
    return SPLITEE_OK;
}

int splitee_replay_add_segment(splitee_replay *rp, size_t start_round,
                               const splitee_table *t, splitee_error *err)
{
    const char *name = splitee_table_name(t);
    if (rp->nseg == SPLITEE_MAX_SEGMENTS)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: at most %d segments in a stream",
                             name, SPLITEE_MAX_SEGMENTS);
    if (start_round < 1 || start_round >= rp->n || start_round <= rp->seg[rp->nseg - 1].start)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "%s: a shift after round %zu is not inside the stream of %zu rounds "
                             "after the previous shift", name, start_round, rp->n);
    if (splitee_table_samples(t) != rp->n || splitee_table_exits(t) != rp->exits)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: %zu samples x %d exits, the stream's table has %zu x %d "
                             "(a shift needs the same samples)", name, splitee_table_samples(t),
                             splitee_table_exits(t), rp->n, rp->exits);
    if ((splitee_table_labels(t) != NULL) != rp->has_labels)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: labels on one table of the stream only",
                             name);
    rp_segment *sg = &rp->seg[rp->nseg];
    if (prepare_table(t, rp->kind, sg) < 0)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory preparing the replay", name);
    sg->start = start_round;
    snprintf(sg->name, sizeof sg->name, "%s", name);
    rp->nseg++;
    return SPLITEE_OK;
}

int splitee_replay_segments(const splitee_replay *rp) { return rp->nseg; }

void splitee_replay_free(splitee_replay *rp)
{
    if (!rp)
        return;
    for (int k = 0; k < rp->nseg; k++) {
        free(rp->seg[k].conf);
        free(rp->seg[k].pred);
        free(rp->seg[k].correct);
    }
    free(rp);
}

size_t splitee_replay_samples(const splitee_replay *rp) { return rp->n; }
int splitee_replay_exits(const splitee_replay *rp) { return rp->exits; }
const double *splitee_replay_confidences(const splitee_replay *rp) { return rp->conf; }
const int32_t *splitee_replay_predictions(const splitee_replay *rp) { return rp->pred; }
splitee_confidence splitee_replay_measure(const splitee_replay *rp) { return rp->kind; }

void splitee_setting_default(splitee_setting *s)
{
    splitee_reward_config_default(&s->reward);
    s->beta = 1.0;
}

void splitee_replay_config_default(splitee_replay_config *c)
{
    memset(c, 0, sizeof *c);
    c->repetitions = 20;
    c->seed = 1;
    c->order = SPLITEE_ORDER_SHUFFLE;
    c->init = SPLITEE_INIT_PLAY_ONCE;
    c->checkpoints = 1000;
    c->threads = 0;
    c->curves = 1;
}

/* -------------------------------------------------------- per setting --- */

/* Rounds of segment k. */
static size_t seg_rounds(const splitee_replay *rp, int k)
{
    return (k + 1 < rp->nseg ? rp->seg[k + 1].start : rp->n) - rp->seg[k].start;
}

/* Fixed-arm means of every segment's table and over the stream (segments
 * weighted by their rounds), the best arm over the stream and per segment,
 * and the per-sample rewards of both. With one segment this is the mean
 * over the table, as without shifts. */
static void setting_means(const splitee_replay *rp, setting_ctx *sc)
{
    const int L = rp->exits;
    const size_t n = rp->n;
    long double stream[SPLITEE_MAX_EXITS] = { 0 }, stream_ee = 0;
    for (int k = 0; k < rp->nseg; k++) {
        long double sum[SPLITEE_MAX_EXITS] = { 0 }, ee = 0;
        const double *conf = rp->seg[k].conf;
        const int32_t *pred = rp->seg[k].pred;
        for (size_t s = 0; s < n; s++) {
            const double *row = conf + s * (size_t)L;
            const int32_t *prow = pred + s * (size_t)L;
            for (int a = 0; a < L; a++)
                sum[a] += splitee_reward_evaluate(&sc->rw, a, row, prow).reward;
            ee += splitee_reward_early_exit(&sc->rw, L - 1, row, prow).reward;
        }
        double *m = sc->seg_mean + (size_t)k * L;
        const double w = (double)seg_rounds(rp, k) / (double)n;   /* 1 with one segment */
        sc->seg_best[k] = 0;
        for (int a = 0; a < L; a++) {
            m[a] = (double)(sum[a] / n);
            stream[a] += w * m[a];
            if (m[a] > m[sc->seg_best[k]])
                sc->seg_best[k] = a;
        }
        sc->seg_ee[k] = (double)(ee / n);
        stream_ee += w * sc->seg_ee[k];
    }
    sc->best = 0;
    for (int a = 0; a < L; a++) {
        sc->arm_mean[a] = (double)stream[a];
        if (sc->arm_mean[a] > sc->arm_mean[sc->best])
            sc->best = a;
    }
    sc->ee_mean = (double)stream_ee;
    for (int k = 0; k < rp->nseg; k++)
        for (size_t s = 0; s < n; s++) {
            const double *row = rp->seg[k].conf + s * (size_t)L;
            const int32_t *prow = rp->seg[k].pred + s * (size_t)L;
            sc->rstar[k * n + s] = splitee_reward_evaluate(&sc->rw, sc->best, row, prow).reward;
            if (sc->rdyn != sc->rstar)
                sc->rdyn[k * n + s] =
                    splitee_reward_evaluate(&sc->rw, sc->seg_best[k], row, prow).reward;
        }
}

/* What the round loop reads from the segment it is in. */
typedef struct seg_cursor {
    const double *conf;     /* (n, L) */
    const int32_t *pred;    /* (n, L) */
    const uint8_t *correct; /* (n, L) or NULL */
    const double *mean;     /* (L) fixed-arm means on this segment */
    double ee;              /* ee-threshold's mean on this segment */
    double mu_static;       /* the stream's best arm's mean on this segment */
    double mu_dynamic;      /* this segment's best arm's mean */
    const double *rstar, *rdyn; /* (n) per-sample rewards of those two arms */
    size_t end;             /* first round of the next segment */
} seg_cursor;

static void seg_enter(seg_cursor *c, const splitee_replay *rp, const setting_ctx *sc, int k)
{
    const int L = rp->exits;
    c->conf = rp->seg[k].conf;
    c->pred = rp->seg[k].pred;
    c->correct = rp->seg[k].correct;
    c->mean = sc->seg_mean + (size_t)k * L;
    c->ee = sc->seg_ee[k];
    c->mu_static = c->mean[sc->best];
    c->mu_dynamic = c->mean[sc->seg_best[k]];
    c->rstar = sc->rstar + (size_t)k * rp->n;
    c->rdyn = sc->rdyn + (size_t)k * rp->n;
    c->end = rp->seg[k].start + seg_rounds(rp, k);
}

/* The policy configuration a job of setting `sc` runs. */
static splitee_policy_config job_policy(const run_ctx *rc, int p, const splitee_setting *set,
                                        const setting_ctx *sc)
{
    splitee_policy_config pc = rc->pols[p];
    pc.beta = set->beta;
    if (splitee_policy_kind_info(pc.kind)->hindsight)
        pc.fixed_arm = sc->best;
    return pc;
}

/* Stable stream number for a policy, so that its random draws do not
 * depend on which other policies run beside it. */
static uint64_t policy_stream(const splitee_policy_config *pc)
{
    char name[32];
    splitee_policy_display_name(pc, name, sizeof name);
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    return h;
}

/* With time-varying o: (expected reward of the best arm at this round -
 * its mean) - (the same for the played arm; -1: a policy that never
 * offloads), so that pseudo-regret uses round t's expected rewards. */
static double round_drift(const setting_ctx *sc, double mu, const double *ot, int best,
                          int arm)
{
    double d = mu * sc->off_frac[best] * (sc->rw.offload[best] - ot[best]);
    if (arm >= 0)
        d -= mu * sc->off_frac[arm] * (sc->rw.offload[arm] - ot[arm]);
    return d;
}

/* Replaces each setting's o by the schedule's mean o per arm over the n
 * rounds (the last arm never offloads), and counts the fraction of samples
 * each arm offloads. By linearity of the reward in o, the fixed-arm means
 * then equal the time-averaged expected rewards. */
static void apply_schedule(const splitee_replay *rp, const double *sched, setting_ctx *sc)
{
    const int L = rp->exits;
    for (int a = 0; a < L; a++) {
        long double sum = 0;
        sc->off_max[a] = 0;
        for (size_t t = 0; t < rp->n; t++) {
            sum += sched[t * (size_t)L + (size_t)a];
            if (sched[t * (size_t)L + (size_t)a] > sc->off_max[a])
                sc->off_max[a] = sched[t * (size_t)L + (size_t)a];
        }
        sc->rw.offload[a] = (double)(sum / rp->n);
        long long off = 0;
        for (size_t s = 0; s < rp->n; s++)
            off += splitee_reward_evaluate(&sc->rw, a, rp->conf + s * (size_t)L,
                                           rp->pred + s * (size_t)L).offloaded;
        sc->off_frac[a] = (double)off / (double)rp->n;
    }
}

/* -------------------------------------------------------------- a job --- */

/* Rounds ahead whose table row is prefetched. */
#define PREFETCH_AHEAD 8

/* splitee_reward_evaluate with the rule's kind known at compile time: for
 * a thresholds rule (thr) the decision is splitee_exit_accepts_threshold,
 * without the test of the rule's kind every round. */
static inline splitee_outcome evaluate(const splitee_reward *rw, int arm, const double *row,
                                       const int32_t *prow, const int thr)
{
    if (!thr)
        return splitee_reward_evaluate(rw, arm, row, prow);
    const int last = rw->arms - 1;
    if (arm == last || splitee_exit_accepts_threshold(&rw->exit, arm, row))
        return splitee_reward_decided(rw, arm, 1, row[arm], 0.0, 0.0);
    return splitee_reward_decided(rw, arm, 0, row[arm], row[last], rw->offload[arm]);
}

/* What one job's pass over the rounds works with. */
typedef struct pass_in {
    const run_ctx *rc;
    const setting_ctx *sc;
    splitee_policy *pol;
    gsl_rng *rng;
    const uint32_t *order;       /* (n) this repetition's sample order */
    rep_out *o;                  /* the job's slot */
    double *curve;               /* (nck, KINDS) or NULL */
    splitee_trace_row *trace;    /* (n) or NULL */
} pass_in;

/* Plays every round of one job and fills in->o. `ee`: the policy is an
 * early-exit deployment of the rule; `thr`: the rule is a thresholds rule,
 * which never reads predictions; `la`: the policy learns alpha
 * (splitee_policy_info.learns_alpha), so each round exits iff C_arm >=
 * the alpha it chose, and its pseudo-regret uses the round's reward in
 * place of the unknown mean of the pair it played. run_job calls it with
 * constant flags for the common cases, and always inlined, each call is a
 * loop of its own. */
static inline __attribute__((always_inline)) void play_pass(const pass_in *in, const int ee,
                                                            const int thr, const int la)
{
    const run_ctx *rc = in->rc;
    const splitee_replay *rp = rc->rp;
    const setting_ctx *sc = in->sc;
    const splitee_reward *rw = &sc->rw;
    splitee_policy *pol = in->pol;
    gsl_rng *rng = in->rng;
    const uint32_t *order = in->order;
    rep_out *o = in->o;
    double *curve = in->curve;
    splitee_trace_row *trace = in->trace;
    const int L = rp->exits;
    const size_t n = rp->n;
    long long plays[SPLITEE_MAX_EXITS] = { 0 }, hist[SPLITEE_MAX_EXITS + 1] = { 0 };
    long long ncorrect = 0, noff = 0;
    double cost = 0, reward = 0, pseudo = 0, realized = 0, dyn_pseudo = 0, dyn_realized = 0;
    int k = 0, seg = 0;
    seg_cursor cur;
    seg_enter(&cur, rp, sc, 0);
    const double *sched = rc->cfg->offload_schedule;
    splitee_reward rwt = *rw; /* round t's reward model (time-varying o) */
    /* With one segment the dynamic regrets are the static ones bit for bit
     * (setting_means: its best arm is the stream's, w = 1 makes the means
     * equal, and rdyn aliases rstar), so they are not summed twice. */
    const int one = rp->nseg == 1;

    for (size_t t = 0; t < n; t++) {
        if (t == cur.end)                    /* a shift: the next segment's table */
            seg_enter(&cur, rp, sc, ++seg);
        const uint32_t s = order[t];
        const double *row = cur.conf + (size_t)s * L;
        const int32_t *prow = thr ? NULL : cur.pred + (size_t)s * L;
        /* the order is shuffled: fetch a later round's row early (a hint;
         * reading past the order is avoided, not needed for correctness) */
        if (t + PREFETCH_AHEAD < n) {
            const uint32_t s2 = order[t + PREFETCH_AHEAD];
            __builtin_prefetch(cur.conf + (size_t)s2 * L);
            if (cur.correct)
                __builtin_prefetch(cur.correct + (size_t)s2 * L);
        }
        const int arm = splitee_policy_choose(pol, rng);
        double drift = 0.0; /* pseudo-regret correction for round t's o */
        if (sched) {
            const double *ot = sched + t * (size_t)L;
            memcpy(rwt.offload, ot, (size_t)L * sizeof *ot);
            splitee_policy_set_offload(pol, ot);
            drift = round_drift(sc, rw->mu, ot, sc->best, ee ? -1 : arm);
        }
        const splitee_outcome oc =
            la ? splitee_reward_decided(&rwt, arm,
                                        arm == L - 1 || row[arm] >= splitee_policy_alpha(pol),
                                        row[arm], row[L - 1], rwt.offload[arm])
            : ee ? splitee_reward_early_exit(&rwt, arm, row, prow)
                 : evaluate(&rwt, arm, row, prow, thr);
        /* what the device saw: an early exit is observed at the exit it took */
        const int seen = ee ? oc.exit : arm;
        const splitee_obs ob = { seen, row, oc.offloaded,
                                 oc.offloaded || seen == L - 1, row[L - 1], prow };
        splitee_policy_observe(pol, &ob);

        const int correct = cur.correct ? cur.correct[(size_t)s * L + oc.exit] : 0;
        ncorrect += correct;
        noff += oc.offloaded;
        cost += oc.cost;
        reward += oc.reward;
        const double mu_arm = la ? oc.reward : ee ? cur.ee : cur.mean[arm];
        /* with a schedule the best arm's reward depends on round t's o (and
         * --link refuses shifts, so the static and dynamic best coincide) */
        const double r_best = sched ? splitee_reward_evaluate(&rwt, sc->best, row, prow).reward
                                    : cur.rstar[s];
        pseudo += cur.mu_static - mu_arm + drift;
        realized += r_best - oc.reward;
        if (!one) {   /* one segment: the same sums term by term (see one) */
            dyn_pseudo += cur.mu_dynamic - mu_arm + drift;
            dyn_realized += (sched ? r_best : cur.rdyn[s]) - oc.reward;
        }
        plays[arm]++;
        hist[oc.offloaded ? L : oc.exit]++;
        if (trace)
            trace[t] = (splitee_trace_row){ s, (int16_t)arm, (int16_t)oc.exit,
                                            (uint8_t)oc.offloaded, (uint8_t)correct,
                                            oc.reward, oc.cost };
        if (curve && t + 1 == rc->ck[k]) {
            double *c = curve + (size_t)k * SPLITEE_CURVE_KINDS;
            c[SPLITEE_CURVE_PSEUDO_REGRET] = pseudo;
            c[SPLITEE_CURVE_REALIZED_REGRET] = realized;
            c[SPLITEE_CURVE_ACCURACY] = rp->correct ? (double)ncorrect / (double)(t + 1) : NAN;
            c[SPLITEE_CURVE_COST] = cost / (double)(t + 1);
            c[SPLITEE_CURVE_DYNAMIC_PSEUDO_REGRET] = one ? pseudo : dyn_pseudo;
            c[SPLITEE_CURVE_DYNAMIC_REALIZED_REGRET] = one ? realized : dyn_realized;
            k++;
        }
    }

    o->accuracy = rp->correct ? (double)ncorrect / (double)n : NAN;
    o->cost = cost / (double)n;
    o->reward = reward / (double)n;
    o->offload = (double)noff / (double)n;
    o->pseudo = pseudo;
    o->realized = realized;
    o->dyn_pseudo = one ? pseudo : dyn_pseudo;
    o->dyn_realized = one ? realized : dyn_realized;
    o->learned = 0;
    for (int a = 0; a < L; a++) {
        o->plays[a] = (double)plays[a];
        if (plays[a] > plays[o->learned])
            o->learned = a;
    }
    for (int a = 0; a <= L; a++)
        o->hist[a] = (double)hist[a];
}

/* Runs repetition r of policy p on setting si. Returns 0 or a status. */
static int run_job(run_ctx *rc, int si, int p, int r)
{
    const splitee_replay *rp = rc->rp;
    const setting_ctx *sc = &rc->sets[si];
    const splitee_reward *rw = &sc->rw;
    const int L = rp->exits;
    const size_t n = rp->n;
    splitee_policy_config pc = job_policy(rc, p, &rc->settings[si], sc);
    splitee_policy *pol;
    /* With a schedule, policies are made with each arm's largest o, so the
     * reward bounds KL-UCB and UCB-V rescale by hold for the whole pass;
     * round t's o is set before each observe. */
    splitee_reward rw_make = *rw;
    if (rc->cfg->offload_schedule)
        memcpy(rw_make.offload, sc->off_max, sizeof rw_make.offload);
    if (splitee_policy_create(&pc, &rw_make, &pol, NULL) < 0)
        return SPLITEE_ERR_ARG;
    gsl_rng *rng = splitee__rng_alloc(0);
    if (!rng) {
        splitee_policy_free(pol);
        return SPLITEE_ERR_NOMEM;
    }
    uint64_t seed = splitee__mix64(rc->cfg->seed ^ splitee__mix64((uint64_t)r + 1)
                                   ^ splitee__mix64(policy_stream(&pc)));
    gsl_rng_set(rng, (unsigned long)seed);

    const uint32_t *order = rc->orders + (size_t)r * n;
    /* an early-exit deployment of the rule (ee-threshold) stops at the
     * first exit the rule accepts, up to the arm chosen */
    const int ee = splitee_policy_kind_info(pc.kind)->early_exit;
    if (rc->cfg->init == SPLITEE_INIT_REFERENCE && splitee_policy_kind_info(pc.kind)->learns)
        for (int a = 0; a < L; a++) {
            const size_t s0 = (size_t)order[(size_t)a % n] * L;
            splitee_policy_seed_arm(pol, a, splitee_reward_evaluate(rw, a, rp->conf + s0,
                                                                    rp->pred + s0).reward);
        }

    rep_out *o = &rc->outs[((size_t)si * rc->np + p) * rc->reps + r];
    memset(o, 0, sizeof *o);
    pass_in in = { rc, sc, pol, rng, order, o, NULL, NULL };
    in.curve = rc->raw_curves
        ? rc->raw_curves + (((size_t)si * rc->np + p) * rc->reps + r) * rc->nck * SPLITEE_CURVE_KINDS
        : NULL;
    in.trace = (si == 0 && r == 0 && rc->traces) ? rc->traces[p] : NULL;
    /* one loop per common case, so that none pays for the others' tests */
    if (splitee_policy_kind_info(pc.kind)->learns_alpha)
        play_pass(&in, 0, 1, 1);   /* its create refused any rule but the threshold rule */
    else if (rw->exit.thresholds && ee)
        play_pass(&in, 1, 1, 0);
    else if (rw->exit.thresholds)
        play_pass(&in, 0, 1, 0);
    else
        play_pass(&in, ee, 0, 0);
    gsl_rng_free(rng);
    splitee_policy_free(pol);
    return SPLITEE_OK;
}

static void *worker(void *arg)
{
    run_ctx *rc = arg;
    const long total = (long)rc->ns * rc->np * rc->reps;
    for (;;) {
        long j = atomic_fetch_add(&rc->next, 1);
        if (j >= total || atomic_load(&rc->failed))
            break;
        int r = (int)(j % rc->reps);
        int p = (int)(j / rc->reps % rc->np);
        int si = (int)(j / rc->reps / rc->np);
        int st = run_job(rc, si, p, r);
        if (st < 0)
            atomic_store(&rc->failed, st);
        atomic_fetch_add(&rc->done, 1);
    }
    return NULL;
}

/* Runs all jobs on `threads` threads (the caller's among them when there is
 * no progress callback to serve), reporting progress from this thread. */
static int run_jobs(run_ctx *rc, int threads)
{
    const long total = (long)rc->ns * rc->np * rc->reps;
    const splitee_replay_config *cfg = rc->cfg;
    if (threads > total)
        threads = (int)total;
    pthread_t tid[256];
    int started = 0;
    int spawn = cfg->progress ? threads : threads - 1;
    for (int i = 0; i < spawn && i < 256; i++)
        if (pthread_create(&tid[started], NULL, worker, rc) == 0)
            started++;
    if (!cfg->progress || started == 0) {
        worker(rc);
    } else {
        const struct timespec tick = { 0, 100 * 1000 * 1000 };
        while (atomic_load(&rc->done) < total && !atomic_load(&rc->failed)) {
            cfg->progress(cfg->progress_ctx, atomic_load(&rc->done), total);
            nanosleep(&tick, NULL);
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    if (cfg->progress)
        cfg->progress(cfg->progress_ctx, atomic_load(&rc->done), total);
    return atomic_load(&rc->failed);
}

/* ---------------------------------------------------------- summarise --- */

/* Statistic of one double field (at byte offset `off`) across repetitions,
 * gathered into tmp (reps). */
static splitee_stat stat_field(const rep_out *o, int reps, size_t off, double *tmp)
{
    for (int r = 0; r < reps; r++)
        memcpy(&tmp[r], (const char *)&o[r] + off, sizeof(double));
    return splitee__stat(tmp, (size_t)reps, 1);
}

/* Combines the repetitions of policy p on setting si into *pr. */
static int summarise(const run_ctx *rc, int si, int p, const splitee_result *res,
                     splitee_policy_result *pr)
{
    const int reps = rc->reps, L = rc->rp->exits;
    const rep_out *o = &rc->outs[((size_t)si * rc->np + p) * reps];
    double *tmp = malloc(3 * (size_t)reps * sizeof *tmp);
    if (!tmp)
        return SPLITEE_ERR_NOMEM;
    double *red = tmp, *chg = tmp + reps, *g = tmp + 2 * reps;
    for (int r = 0; r < reps; r++) {
        red[r] = res->final_cost > 0 ? 1.0 - o[r].cost / res->final_cost : NAN;
        chg[r] = o[r].accuracy - res->final_accuracy;
    }
    pr->config = job_policy(rc, p, &rc->settings[si], &rc->sets[si]);
    splitee_policy_display_name(&rc->pols[p], pr->name, sizeof pr->name);
    pr->accuracy = stat_field(o, reps, offsetof(rep_out, accuracy), g);
    pr->cost = stat_field(o, reps, offsetof(rep_out, cost), g);
    pr->reward = stat_field(o, reps, offsetof(rep_out, reward), g);
    pr->offload_rate = stat_field(o, reps, offsetof(rep_out, offload), g);
    pr->pseudo_regret = stat_field(o, reps, offsetof(rep_out, pseudo), g);
    pr->realized_regret = stat_field(o, reps, offsetof(rep_out, realized), g);
    pr->dynamic_pseudo_regret = stat_field(o, reps, offsetof(rep_out, dyn_pseudo), g);
    pr->dynamic_realized_regret = stat_field(o, reps, offsetof(rep_out, dyn_realized), g);
    pr->cost_reduction = splitee__stat(red, (size_t)reps, 1);
    pr->accuracy_change = splitee__stat(chg, (size_t)reps, 1);
    free(tmp);

    int votes[SPLITEE_MAX_EXITS] = { 0 };
    for (int r = 0; r < reps; r++)
        votes[o[r].learned]++;
    pr->learned_arm = 0;
    for (int a = 0; a < L; a++)
        if (votes[a] > votes[pr->learned_arm])
            pr->learned_arm = a;
    pr->learned_share = (double)votes[pr->learned_arm] / reps;
    for (int a = 0; a <= L; a++) {
        long double pl = 0, h = 0;
        for (int r = 0; r < reps; r++) {
            pl += a < L ? o[r].plays[a] : 0;
            h += o[r].hist[a];
        }
        if (a < L)
            pr->arm_plays[a] = (double)(pl / reps);
        pr->exit_hist[a] = (double)(h / reps);
    }

    if (rc->raw_curves) {
        const size_t width = (size_t)rc->nck * SPLITEE_CURVE_KINDS;
        const double *raw = rc->raw_curves + ((size_t)si * rc->np + p) * reps * width;
        pr->curves = malloc(width * 3 * sizeof *pr->curves);
        if (!pr->curves)
            return SPLITEE_ERR_NOMEM;
        for (size_t c = 0; c < width; c++) {
            splitee_stat st = splitee__stat(raw + c, (size_t)reps, width);
            pr->curves[3 * c] = st.mean;
            pr->curves[3 * c + 1] = st.lo;
            pr->curves[3 * c + 2] = st.hi;
        }
    }
    return SPLITEE_OK;
}

/* --------------------------------------------------------------- run --- */

static int check_args(const splitee_replay *rp, const splitee_setting *settings, int ns,
                      const splitee_policy_config *pols, int np,
                      const splitee_replay_config *cfg, setting_ctx *sets,
                      splitee_error *err)
{
    if (ns < 1 || np < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "nothing to run: %d settings, %d policies", ns, np);
    if (cfg->repetitions < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "repetitions must be >= 1 (got %d)", cfg->repetitions);
    if (cfg->checkpoints < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "checkpoints must be >= 1 (got %d)", cfg->checkpoints);
    if (cfg->threads < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "threads must be >= 0 (got %d)", cfg->threads);
    if (rp->n > UINT32_MAX)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "too many samples for a replay (%zu)", rp->n);
    if (cfg->offload_schedule && rp->nseg > 1)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "--link with --shift is not supported yet (a time-varying o needs "
                             "per-segment offload fractions)");
    if (cfg->offload_schedule) {
        if (cfg->offload_rounds < rp->n)
            return splitee__fail(err, SPLITEE_ERR_SHAPE, "offload schedule has %zu rounds for %zu samples",
                                 cfg->offload_rounds, rp->n);
        for (size_t i = 0; i < rp->n * (size_t)rp->exits; i++)
            if (!isfinite(cfg->offload_schedule[i]) || cfg->offload_schedule[i] < 0)
                return splitee__fail(err, SPLITEE_ERR_VALUE, "offload schedule: o[%zu][%zu] = %g is not a finite cost >= 0",
                                     i / (size_t)rp->exits, i % (size_t)rp->exits, cfg->offload_schedule[i]);
    }
    for (int si = 0; si < ns; si++) {
        /* the confidences were computed at prepare: the rule uses their measure */
        splitee_reward_config rcfg = settings[si].reward;
        rcfg.exit.confidence = rp->kind;
        const splitee_exit_info *ei = splitee_exit_kind_info(rcfg.exit.kind);
        if (ei && ei->stream)   /* its state spans samples: splitee_temporal_run (temporal.h) */
            return splitee__fail(err, SPLITEE_ERR_ARG, "exit rule %s keeps state across frames: a policy replay "
                                 "cannot run it (splitee_temporal_run replays it in the table's order)", ei->name);
        int st = splitee_reward_init(&sets[si].rw, &rcfg, rp->exits, err);
        if (st < 0)
            return st;
        for (int p = 0; p < np; p++) {
            splitee_policy_config pc = pols[p];
            pc.beta = settings[si].beta;
            if (splitee_policy_kind_info(pc.kind)->hindsight)
                pc.fixed_arm = 0;
            splitee_policy *tmp;
            if ((st = splitee_policy_create(&pc, &sets[si].rw, &tmp, err)) < 0)
                return st;
            splitee_policy_free(tmp);
        }
    }
    return SPLITEE_OK;
}

/* Every metric a report prints must be a number: VALUE naming the policy,
 * the metric and the setting otherwise (rewards near the double range
 * overflow when summed over the rounds). Accuracy without labels, and
 * cost reduction when the final exit costs nothing (lambda 0), are
 * undefined by design and stay NaN. */
static int check_finite(const splitee_result *res, int nres, splitee_error *err)
{
    for (int si = 0; si < nres; si++) {
        const splitee_result *R = &res[si];
        for (int p = 0; p < R->npolicies; p++) {
            const splitee_policy_result *pr = &R->policies[p];
            const struct { const char *name; double v; int defined; } m[] = {
                { "average cost", pr->cost.mean, 1 },
                { "average reward", pr->reward.mean, 1 },
                { "offload rate", pr->offload_rate.mean, 1 },
                { "accuracy", pr->accuracy.mean, R->has_labels },
                { "accuracy change", pr->accuracy_change.mean, R->has_labels },
                { "cost reduction", pr->cost_reduction.mean, R->final_cost > 0 },
                { "pseudo regret", pr->pseudo_regret.mean, 1 },
                { "realized regret", pr->realized_regret.mean, 1 },
                { "dynamic pseudo regret", pr->dynamic_pseudo_regret.mean, 1 },
                { "dynamic realized regret", pr->dynamic_realized_regret.mean, 1 },
            };
            for (size_t k = 0; k < sizeof m / sizeof *m; k++)
                if (m[k].defined && !isfinite(m[k].v))
                    return splitee__fail(err, SPLITEE_ERR_VALUE,
                                         "replay: %s's %s is not a finite number at setting %d (alpha %g, "
                                         "mu %g, offload %g): rewards of up to %g summed over %zu rounds "
                                         "overflow; use smaller costs or mu", pr->name, m[k].name, si + 1,
                                         R->reward.alpha, R->reward.mu, R->reward.offload[0],
                                         R->reward.mu * (R->reward.gamma[R->arms - 1] + R->reward.offload[0]),
                                         R->rounds);
        }
    }
    return 0;
}

/* Each repetition's sample order; NOMEM when no generator can be had
 * (never an unshuffled order in its place). */
/* gsl_ran_shuffle(rng, ord, n, sizeof *ord), the same permutation for the
 * same generator state (GSL 2.x: for i = n-1 down to 1, swap i with
 * gsl_rng_uniform_int(rng, i + 1), itself the rejection loop below), with
 * the generator called directly and 32-bit swaps in place of GSL's generic
 * byte-wise swap through a function call per element: the shuffle was a
 * fifth of the instructions of a splitee replay (docs/PERFORMANCE.md).
 * n must be at most the generator's range (mt19937: 2^32 - 1), which
 * replay tables are (their sample index is a uint32_t). test_replay.c
 * checks it against gsl_ran_shuffle. Internal, not static so the test can
 * reach it. */
void splitee__shuffle_u32(gsl_rng *rng, uint32_t *ord, size_t n);
void splitee__shuffle_u32(gsl_rng *rng, uint32_t *ord, size_t n)
{
    const unsigned long offset = rng->type->min;
    const unsigned long range = rng->type->max - offset;
    unsigned long (*get)(void *) = rng->type->get;
    void *state = rng->state;
    for (size_t i = n > 0 ? n - 1 : 0; i > 0; i--) {
        const unsigned long m = (unsigned long)i + 1;
        const unsigned long scale = range / m;
        unsigned long k;
        do
            k = (get(state) - offset) / scale;
        while (k >= m);
        const uint32_t tmp = ord[i];
        ord[i] = ord[k];
        ord[k] = tmp;
    }
}

static int make_orders(const run_ctx *rc)
{
    const size_t n = rc->rp->n;
    gsl_rng *rng = splitee__rng_alloc(0);
    if (!rng)
        return SPLITEE_ERR_NOMEM;
    for (int r = 0; r < rc->reps; r++) {
        uint32_t *ord = rc->orders + (size_t)r * n;
        for (size_t i = 0; i < n; i++)
            ord[i] = (uint32_t)i;
        if (rc->cfg->order == SPLITEE_ORDER_SHUFFLE) {
            gsl_rng_set(rng, (unsigned long)splitee__mix64(rc->cfg->seed
                                                          ^ splitee__mix64((uint64_t)r + 1)));
            splitee__shuffle_u32(rng, ord, n);
        }
    }
    gsl_rng_free(rng);
    return 0;
}

static int fill_results(run_ctx *rc, splitee_result *res)
{
    const splitee_replay *rp = rc->rp;
    for (int si = 0; si < rc->ns; si++) {
        splitee_result *R = &res[si];
        const setting_ctx *sc = &rc->sets[si];
        R->setting = rc->settings[si];
        R->reward = sc->rw;
        R->rounds = rp->n;
        R->repetitions = rc->reps;
        R->arms = rp->exits;
        R->has_labels = rp->has_labels;
        R->offload_scheduled = rc->cfg->offload_schedule != NULL;
        memcpy(R->arm_mean, sc->arm_mean, sizeof R->arm_mean);
        R->best_arm = sc->best;
        R->final_accuracy = rp->correct ? 0.0 : NAN;
        R->segments = rp->nseg;
        R->segment = calloc((size_t)rp->nseg, sizeof *R->segment);
        if (!R->segment)
            return SPLITEE_ERR_NOMEM;
        for (int k = 0; k < rp->nseg; k++) {
            splitee_segment_info *g = &R->segment[k];
            g->start = rp->seg[k].start;
            g->rounds = seg_rounds(rp, k);
            snprintf(g->table, sizeof g->table, "%s", rp->seg[k].name);
            g->best_arm = sc->seg_best[k];
            memcpy(g->arm_mean, sc->seg_mean + (size_t)k * rp->exits,
                   (size_t)rp->exits * sizeof *g->arm_mean);
            long long c = 0;
            for (size_t s = 0; rp->correct && s < rp->n; s++)
                c += rp->seg[k].correct[s * rp->exits + rp->exits - 1];
            if (rp->correct)  /* weighted by the segment's rounds; exact with one */
                R->final_accuracy += (double)g->rounds / (double)rp->n * ((double)c / (double)rp->n);
        }
        R->final_cost = sc->rw.gamma[rp->exits - 1];
        R->checkpoints = rc->nck;
        R->npolicies = rc->np;
        R->checkpoint_rounds = malloc((size_t)rc->nck * sizeof *R->checkpoint_rounds);
        R->policies = calloc((size_t)rc->np, sizeof *R->policies);
        if (!R->checkpoint_rounds || !R->policies)
            return SPLITEE_ERR_NOMEM;
        memcpy(R->checkpoint_rounds, rc->ck, (size_t)rc->nck * sizeof *rc->ck);
        for (int p = 0; p < rc->np; p++) {
            int st = summarise(rc, si, p, R, &R->policies[p]);
            if (st < 0)
                return st;
            if (si == 0 && rc->traces) {
                R->policies[p].trace = rc->traces[p];
                rc->traces[p] = NULL;
            }
        }
    }
    return SPLITEE_OK;
}

static void free_ctx(run_ctx *rc)
{
    for (int si = 0; rc->sets && si < rc->ns; si++) {
        if (rc->sets[si].rdyn != rc->sets[si].rstar)
            free(rc->sets[si].rdyn);
        free(rc->sets[si].rstar);
        free(rc->sets[si].seg_mean);
        free(rc->sets[si].seg_ee);
        free(rc->sets[si].seg_best);
    }
    free(rc->sets);
    free(rc->orders);
    free(rc->ck);
    free(rc->outs);
    free(rc->raw_curves);
    for (int p = 0; rc->traces && p < rc->np; p++)
        free(rc->traces[p]);
    free(rc->traces);
}

int splitee_replay_run(const splitee_replay *rp,
                       const splitee_setting *settings, int nsettings,
                       const splitee_policy_config *policies, int npolicies,
                       const splitee_replay_config *cfg,
                       splitee_result **out, splitee_error *err)
{
    *out = NULL;
    run_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.rp = rp;
    rc.settings = settings;
    rc.pols = policies;
    rc.np = npolicies;
    rc.ns = nsettings;
    rc.reps = cfg->repetitions;
    rc.cfg = cfg;
    rc.sets = calloc(nsettings > 0 ? (size_t)nsettings : 1, sizeof *rc.sets);
    if (!rc.sets)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    int st = check_args(rp, settings, nsettings, policies, npolicies, cfg, rc.sets, err);
    if (st < 0) {
        free_ctx(&rc);
        return st;
    }
    const size_t n = rp->n;
    rc.nck = cfg->checkpoints < (long)n ? cfg->checkpoints : (int)n;
    size_t jobs = (size_t)nsettings * npolicies * rc.reps, curve_cells = 0;
    int ok = splitee__mul_size(jobs, (size_t)rc.nck * SPLITEE_CURVE_KINDS, &curve_cells) == 0;
    rc.orders = malloc((size_t)rc.reps * n * sizeof *rc.orders);
    rc.ck = malloc((size_t)rc.nck * sizeof *rc.ck);
    rc.outs = malloc(jobs * sizeof *rc.outs);
    if (ok && cfg->curves)
        ok = (rc.raw_curves = malloc(curve_cells * sizeof *rc.raw_curves)) != NULL;
    ok = ok && rc.orders && rc.ck && rc.outs;
    if (ok && cfg->trace) {
        rc.traces = calloc((size_t)npolicies, sizeof *rc.traces);
        ok = rc.traces != NULL;
        for (int p = 0; ok && p < npolicies; p++)
            ok = (rc.traces[p] = malloc(n * sizeof **rc.traces)) != NULL;
    }
    const size_t nseg = (size_t)rp->nseg;
    for (int si = 0; ok && si < nsettings; si++) {
        setting_ctx *sc = &rc.sets[si];
        sc->rstar = malloc(nseg * n * sizeof *sc->rstar);
        sc->rdyn = nseg > 1 ? malloc(nseg * n * sizeof *sc->rdyn) : sc->rstar;
        sc->seg_mean = malloc(nseg * (size_t)rp->exits * sizeof *sc->seg_mean);
        sc->seg_ee = malloc(nseg * sizeof *sc->seg_ee);
        sc->seg_best = malloc(nseg * sizeof *sc->seg_best);
        ok = sc->rstar && sc->rdyn && sc->seg_mean && sc->seg_ee && sc->seg_best;
    }
    if (!ok) {
        free_ctx(&rc);
        return splitee__fail(err, SPLITEE_ERR_NOMEM,
                             "out of memory for %zu replay jobs (fewer --checkpoints or settings?)", jobs);
    }
    for (int k = 0; k < rc.nck; k++)
        rc.ck[k] = (size_t)(((unsigned long long)(k + 1) * n) / (unsigned long long)rc.nck);
    for (int si = 0; si < nsettings; si++) {
        if (cfg->offload_schedule)
            apply_schedule(rp, cfg->offload_schedule, &rc.sets[si]);
        setting_means(rp, &rc.sets[si]);
    }
    if (make_orders(&rc) < 0) {
        free_ctx(&rc);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory for the sample orders");
    }

    int threads = cfg->threads;
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (int)(cpus < 256 ? cpus : 256) : 1;
    }
    st = run_jobs(&rc, threads);
    splitee_result *res = NULL;
    if (st == 0) {
        res = calloc((size_t)nsettings, sizeof *res);
        st = res ? fill_results(&rc, res) : SPLITEE_ERR_NOMEM;
    }
    free_ctx(&rc);
    if (st < 0) {
        splitee_results_free(res, nsettings);
        return splitee__fail(err, st, "replay failed: %s", splitee_strerror(st));
    }
    if ((st = check_finite(res, nsettings, err)) < 0) {
        splitee_results_free(res, nsettings);
        return st;
    }
    *out = res;
    return SPLITEE_OK;
}

void splitee_results_free(splitee_result *res, int n)
{
    if (!res)
        return;
    for (int i = 0; i < n; i++) {
        for (int p = 0; res[i].policies && p < res[i].npolicies; p++) {
            free(res[i].policies[p].curves);
            free(res[i].policies[p].trace);
        }
        free(res[i].policies);
        free(res[i].checkpoint_rounds);
        free(res[i].segment);
    }
    free(res);
}
