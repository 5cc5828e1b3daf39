/* policy_impl.h -- what the policy files in bandit/ share and nothing else
 * sees: the opaque splitee_policy, its per-family vtable, the shared per-arm
 * statistics and the one reward formula every observe path uses. Not
 * installed; the public interface is include/splitee/bandit.h. */
#ifndef SPLITEE_POLICY_IMPL_H
#define SPLITEE_POLICY_IMPL_H

#include <math.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <cjson/cJSON.h>
#include <gsl/gsl_rng.h>

#include "splitee/bandit.h"
#include "splitee/reward.h"

/* The two per-round operations a policy family provides. */
typedef struct splitee__policy_ops {
    /* Returns the arm to play (0 <= arm < arms); `rng` may be NULL. */
    int (*choose)(splitee_policy *p, gsl_rng *rng);
    /* Learns from one round; ob->arm is in range (checked by the caller). */
    void (*observe)(splitee_policy *p, const splitee_obs *ob);
    /* Optional (NULL: the shared splitee__policy_update). Records a reward
     * for `arm` outside a round (splitee_policy_seed_arm). */
    void (*seed)(splitee_policy *p, int arm, double reward);
    /* Optional: adds family-specific state to a save; 0 or -1 (no memory). */
    int (*save_extra)(const splitee_policy *p, cJSON *o);
    /* Optional: validates the family-specific state of `o` against the
     * counts n (arms) already parsed (apply 0, p untouched), or installs it
     * into p after the shared fields were restored (apply 1, cannot fail). */
    int (*load_extra)(splitee_policy *p, const cJSON *o, const double *n, int apply,
                      splitee_error *err);
    /* Optional: family-specific part of reset (the window's ring). */
    void (*reset_extra)(splitee_policy *p);
    /* Optional: allocates family-specific state at create, after the
     * shared fields are set (the window's ring); 0 or NOMEM with err set.
     * free_extra (optional) releases it and must accept a partial state. */
    int (*create_extra)(splitee_policy *p, splitee_error *err);
    void (*free_extra)(splitee_policy *p);
    /* 1: the per-arm counts n are discounted, not whole numbers (a saved
     * state's counts are checked accordingly). */
    int fractional_counts;
} splitee__policy_ops;

/* A policy kind: its public traits and the operations that implement it.
 * Each family file defines one per kind it implements; policy.c's registry
 * maps splitee_policy_kind to it. */
typedef struct splitee__policy_kind {
    splitee_policy_info info;
    const splitee__policy_ops *ops;
} splitee__policy_kind;

struct splitee_policy {
    const splitee__policy_ops *ops;
    splitee_policy_config cfg;
    splitee_reward rw;       /* copy of the caller's reward model */
    int arms;                /* L = rw.arms */
    int untried;             /* number of arms with n == 0 */
    long long rounds;        /* observe() calls since create/reset */
    int needs_pred;          /* the exit rule reads predictions: side
                                observations need ob->pred */
    int hint;                /* UCB1: the arm chosen last round, where the
                                next scan starts (a speed hint only: any
                                value gives the same choice) */
    double lo, hi;           /* bounds of any reward under rw (kl-ucb, ucb-v) */
    /* Per-arm statistics, (arms) used. The entries past `arms` are padding
     * that loops working two arms at a time may read: n = 1, the rest 0. */
    double n[SPLITEE_MAX_EXITS + 1];     /* plays, incl. side observations */
    double sum[SPLITEE_MAX_EXITS + 1];   /* sum of rewards */
    double sumsq[SPLITEE_MAX_EXITS + 1]; /* sum of squared rewards */
    double mean[SPLITEE_MAX_EXITS + 1];  /* sum/n, cached at update; 0 if n == 0 */
    /* sw-ucb, sw-ucb-s (nonstationary.c): the rewards observed in the last
     * cfg.window rounds, in a ring of win_cap entries allocated at create,
     * oldest at win_head; NULL for other kinds. Each entry carries the round
     * it was observed in (side observations add several per round).
     * n/sum/sumsq above are the window's statistics, kept by adding new
     * entries and subtracting evicted ones; to keep rounding drift bounded,
     * fresh_* re-accumulate from zero and replace them every W rounds. */
    uint8_t *win_arm;    /* (win_cap) arm of each remembered reward */
    double *win_r;       /* (win_cap) the reward */
    long long *win_round;/* (win_cap) the round (0-based) it was observed in */
    int win_cap;         /* W (+ arms for seeds), W * arms + arms with side obs. */
    int win_head, win_len;
    int fresh_rounds;    /* rounds in fresh_* (0..window-1) */
    double fresh_n[SPLITEE_MAX_EXITS + 1];
    double fresh_sum[SPLITEE_MAX_EXITS + 1];
    double fresh_sumsq[SPLITEE_MAX_EXITS + 1];
    /* splitee-alpha (alpha.c): the threshold grid, ascending, and the
     * statistics of the (layer, alpha) pairs, pair = layer * grid_n + g,
     * allocated at create; NULL for other kinds. n/sum/mean above then
     * hold the played layers' rewards, whatever their alpha. */
    int grid_n;
    double *grid;        /* (grid_n) */
    double *pair_n;      /* (arms * grid_n) plays incl. side observations */
    double *pair_sum;    /* (arms * grid_n) */
    double *pair_mean;   /* (arms * grid_n) pair_sum / pair_n, 0 if unplayed */
    int pair_untried;    /* pairs with pair_n == 0 */
    int cur_pair;        /* the pair chosen last; -1 before the first */
    /* kl-ucb (ucb.c), per arm: kl_q its last computed index (a warm start
     * only), and a crossing-time cache keyed by value: while its count and
     * mean stay kl_n, kl_mean and the reward bounds kl_lo, kl_hi, its index
     * is below kl_Y for every round with ln t < kl_tau. kl_tau -INFINITY:
     * empty. */
    double kl_q[SPLITEE_MAX_EXITS + 1];
    double kl_Y[SPLITEE_MAX_EXITS + 1];
    double kl_tau[SPLITEE_MAX_EXITS + 1];
    double kl_n[SPLITEE_MAX_EXITS + 1];
    double kl_mean[SPLITEE_MAX_EXITS + 1];
    double kl_hx[SPLITEE_MAX_EXITS + 1];   /* x whose h(x) is kl_h (-1: none) */
    double kl_h[SPLITEE_MAX_EXITS + 1];
    double kl_lo, kl_hi;
};

/* The KL-UCB index of an arm with rescaled mean m in [0, 1] and n > 0
 * plays at bound lt = ln t: max{q in [m, 1] : n kl(m, q) <= lt}, kl
 * clamped into [1e-15, 1 - 1e-15], by safeguarded Newton steps (ucb.c)
 * started at `start` (any value; outside (m, 1) Pinsker's bound is used),
 * within about 1e-14 of the root. Internal; tested against a
 * high-precision bisection (test_bandit.c). */
double splitee__kl_ucb_index(double m, double n, double lt, double start);

/* Reward of arm j on a sample whose exit j has confidence cj and whose last
 * exit has confidence cl, given whether the sample ends at exit j (`exits`):
 * the single formula of reward.h (splitee_reward_decided, with the reward
 * model's o). cl is read only when arm j offloads. */
static inline double splitee__arm_reward(const splitee_reward *rw, int j, int exits,
                                         double cj, double cl)
{
    return splitee_reward_decided(rw, j, exits, cj, cl, rw->offload[j]).reward;
}

/* Reward of the played arm: what happened (ob->offloaded), not a decision
 * made again, so a rule the policy cannot replay is still learned right. */
static inline double splitee__played_reward(const splitee_reward *rw, const splitee_obs *ob)
{
    const int a = ob->arm;
    return splitee__arm_reward(rw, a, a == rw->arms - 1 || !ob->offloaded, ob->conf[a],
                               ob->conf_final);
}

/* Adds one reward to arm `arm`'s statistics and refreshes its cached mean
 * (sum/n, one division, identical to dividing at choose time). Does not
 * touch the round counter. */
static inline void splitee__policy_update(splitee_policy *p, int arm, double reward)
{
    if (p->n[arm] == 0)
        p->untried--;
    p->n[arm] += 1;
    p->sum[arm] += reward;
    p->sumsq[arm] += reward * reward;
    p->mean[arm] = p->sum[arm] / p->n[arm];
}

/* Adds array `name` of the n doubles of v to obj, each printed so that it
 * reads back exactly (a policy's save_extra); 0, or -1 out of memory. */
int splitee__state_add_array(cJSON *obj, const char *name, const double *v, int n);

/* Reads array `name` of exactly `len` finite numbers of o into v (v NULL:
 * check only); SPLITEE_ERR_FORMAT naming the field otherwise. */
int splitee__state_read_numbers(const cJSON *o, const char *name, int len, double *v,
                                splitee_error *err);

/* Lowest arm with no observation; only meaningful when p->untried > 0. */
static inline int splitee__policy_first_untried(const splitee_policy *p)
{
    int a = 0;
    while (a < p->arms - 1 && p->n[a] != 0)
        a++;
    return a;
}

/* Lowest arm with the highest cached mean (all arms, observed or not). */
static inline int splitee__policy_argmax_mean(const splitee_policy *p)
{
    int best = 0;
    for (int a = 1; a < p->arms; a++)
        if (p->mean[a] > p->mean[best])
            best = a;
    return best;
}

#ifdef __SSE2__
/* splitee__ucb1_scan's skip test on arms i, i+1 (mean m, count n, the
 * best index b, 1 - 1e-9 k, tau t, beta^2 ln t l): each lane -1 where the
 * arm is kept (cannot be ruled out), 0 where it is skipped. */
static inline __m128i splitee__ucb1_keep2(const double *m, const double *n, __m128d b,
                                          __m128d k, __m128d t, __m128d l)
{
    const __m128d d = _mm_sub_pd(_mm_mul_pd(_mm_sub_pd(b, _mm_loadu_pd(m)), k), t);
    return _mm_castpd_si128(
        _mm_or_pd(_mm_cmpngt_pd(d, _mm_setzero_pd()),
                  _mm_cmpnlt_pd(l, _mm_mul_pd(_mm_mul_pd(d, d), _mm_loadu_pd(n)))));
}
#endif

/* UCB1: argmax over a of mean[a] + beta*sqrt(lt / n[a]) (every n[a] > 0),
 * lowest a on ties. Every index that can win is evaluated exactly as the
 * authors' numpy expression, so the choices match theirs bit for bit; the
 * division and square root are skipped only for an arm whose index is
 * provably below the best index found so far, b:
 *
 *   d = (b - mean_a) - tau > 0  and  beta^2 lt < d^2 n_a,
 *   tau = 1e-9 (1 + 2|b| + |b - mean_a|)   (>= 1e-9 (1 + |b| + |mean_a|))
 *
 * imply mean_a + beta*sqrt(lt/n_a) <= b - tau + (a few ulps) < b, since
 * every rounding error involved is far below tau. The scan starts from
 * `hint` (the arm chosen last round, which usually wins again; any value
 * gives the same answer), so most rounds cost one division and square root
 * instead of one per arm, and a branch-free test per arm (below). */
static inline int splitee__ucb1_scan(const double *mean, const double *n, int count,
                                     double beta, double lt, int hint)
{
    const double b2lt = beta * beta * lt;
    int best = hint >= 0 && hint < count ? hint : 0;
    double best_idx = mean[best] + beta * sqrt(lt / n[best]);
    double tau0 = 1e-9 * (1.0 + 2.0 * fabs(best_idx));
    /* The common round: every arm but `best` passes the skip test below
     * against best's index. Counted first without a branch, two arms at a
     * time where SSE2 is there (the same IEEE operations lane by lane as
     * the scalar test; cmpngt/cmpnlt are its negations, NaN included).
     * `best` itself never passes (d = -tau0 < 0), so a count of one open
     * arm means the scan below would only confirm `best` (its own index
     * ties and a == best is not lower): returned without the scan. */
    long long open = 0;
    int a = 0;
#ifdef __SSE2__
    {
        const __m128d vb = _mm_set1_pd(best_idx), vk = _mm_set1_pd(1.0 - 1e-9),
                      vt = _mm_set1_pd(tau0), vl = _mm_set1_pd(b2lt);
        __m128i cnt = _mm_setzero_si128();
        for (; a + 4 <= count; a += 4) {   /* lanes are 0 or -1 */
            cnt = _mm_sub_epi64(cnt, splitee__ucb1_keep2(mean + a, n + a, vb, vk, vt, vl));
            cnt = _mm_sub_epi64(cnt, splitee__ucb1_keep2(mean + a + 2, n + a + 2, vb, vk, vt, vl));
        }
        if (a + 2 <= count) {
            cnt = _mm_sub_epi64(cnt, splitee__ucb1_keep2(mean + a, n + a, vb, vk, vt, vl));
            a += 2;
        }
        long long lanes[2];
        _mm_storeu_si128((__m128i *)lanes, cnt);
        open = lanes[0] + lanes[1];
    }
#endif
    for (; a < count; a++) {
        const double d = (best_idx - mean[a]) * (1.0 - 1e-9) - tau0;
        open += !(d > 0 && b2lt < d * d * n[a]);
    }
    if (open == 1)
        return best;
    for (a = 0; a < count; a++) {
        const double gap = best_idx - mean[a];
        const double d = gap * (1.0 - 1e-9) - tau0; /* gap - tau, gap > 0 */
        if (d > 0 && b2lt < d * d * n[a])
            continue;
        const double idx = mean[a] + beta * sqrt(lt / n[a]);
        if (idx > best_idx || (idx == best_idx && a < best)) {
            best_idx = idx;
            best = a;
            tau0 = 1e-9 * (1.0 + 2.0 * fabs(best_idx));
        }
    }
    return best;
}

/* splitee__side_rewards for a rule that is not a thresholds rule (policy.c,
 * out of line so that the common case stays small). */
void splitee__side_rewards_stepped(splitee_policy *p, const splitee_obs *ob, int use_final,
                                   void (*credit)(splitee_policy *, int, double));

/* The SplitEE-S rule (docs/ARCHITECTURE.md): playing arm a reveals C_1..C_a (and C_L
 * when the sample was offloaded or a is the last arm), so every lower arm j
 * whose reward was observable is credited, in increasing j: one the exit
 * rule accepts (it would have exited) always; one that would have
 * offloaded needs C_L, which honest mode uses only when it was actually
 * known and the reference mode (the authors' simulation) always uses. A
 * thresholds rule costs one comparison per exit; another is stepped exit by
 * exit through its per-sample state; a rule that reads predictions
 * credits no lower arm when the observation has none. The played arm is
 * not credited. */
static inline void splitee__side_rewards(splitee_policy *p, const splitee_obs *ob,
                                         void (*credit)(splitee_policy *, int, double))
{
    const splitee_reward *rw = &p->rw;
    const int use_final = ob->final_known || p->cfg.side_info == SPLITEE_SIDE_INFO_REFERENCE;
    if (rw->exit.thresholds) {   /* the common case: one comparison per exit */
        for (int j = 0; j < ob->arm; j++) {
            double cj = ob->conf[j];
            int exits = splitee_exit_accepts_threshold(&rw->exit, j, ob->conf);
            if (exits || use_final)
                credit(p, j, splitee__arm_reward(rw, j, exits, cj, ob->conf_final));
        }
        return;
    }
    splitee__side_rewards_stepped(p, ob, use_final, credit);
}

/* The observe every family without side observations uses: credits the
 * played arm with its reward (C_L taken from ob->conf_final when the arm
 * offloaded) and advances the round counter. */
void splitee__observe_played(splitee_policy *p, const splitee_obs *ob);

/* The kinds, one per splitee_policy_kind (policy.c's registry), defined
 * beside their operations in ucb.c, baselines.c, greedy.c, thompson.c and
 * nonstationary.c. */
extern const splitee__policy_kind splitee__kind_splitee, splitee__kind_splitee_s,
    splitee__kind_kl_ucb, splitee__kind_ucb_v;                        /* ucb.c */
extern const splitee__policy_kind splitee__kind_final, splitee__kind_random,
    splitee__kind_fixed, splitee__kind_oracle, splitee__kind_ee_threshold; /* baselines.c */
extern const splitee__policy_kind splitee__kind_epsilon_greedy;       /* greedy.c */
extern const splitee__policy_kind splitee__kind_thompson;             /* thompson.c */
extern const splitee__policy_kind splitee__kind_sw_ucb, splitee__kind_d_ucb,
    splitee__kind_sw_ucb_s, splitee__kind_d_ucb_s;                    /* nonstationary.c */
extern const splitee__policy_kind splitee__kind_splitee_alpha;        /* alpha.c */

#endif
