/* nonstationary.c -- UCB for a changing world (Garivier & Moulines, "On
 * upper-confidence bound policies for switching bandit problems", ALT 2011):
 *
 * sw-ucb  sliding-window UCB. Only the rewards of the last W rounds count:
 *         N_t(W, a) of them for arm a, with mean m_t(W, a); index
 *             m_t(W, a) + beta * sqrt(xi * ln min(t, W) / N_t(W, a))
 *         with t = rounds observed + 1 (the round being decided, the clock
 *         SplitEE's UCB1 uses) and xi = 1, so that with W >= T the policy is
 *         SplitEE's UCB1 exactly. An arm with no reward in the window is
 *         untried again and is played first (lowest first).
 * d-ucb   discounted UCB. Every round all counts and sums are multiplied by
 *         gamma before the round's rewards are added:
 *             N_t(g, a) = sum_s g^(t-1-s) 1{a_s = a},  S_t(g, a) likewise with r_s;
 *         index S/N + beta * sqrt(xi * ln n_t / N_t(g, a)), n_t = sum_a N_t(g, a),
 *         xi = 1. (With gamma = 1, n_t = rounds: UCB1 with ln(t - 1).) An arm
 *         whose discounted count underflowed to 0 is untried again.
 * sw-ucb-s, d-ucb-s  the same with SplitEE-S side observations (policy_impl.h,
 *         honest or reference): every observable lower-arm reward of a round
 *         enters the window / the discounted sums with that round's age;
 *         d-ucb-s uses the discounted number of rounds for n_t, so side
 *         observations do not speed up the clock (as SplitEE-S uses ln t).
 *
 * The paper writes the padding B*sqrt(xi ln(.)/N) with B the reward range
 * and suggests xi = 0.6 (sw) or 0.5 < xi < 1 (d); here beta plays B*sqrt(xi)
 * (splitee's --beta, 1 by default) so every UCB policy shares one constant.
 *
 * All are O(arms) per round with no allocation (a round evicts from the
 * window the rewards of the one round that left it, at most one per arm);
 * the window's ring buffer is allocated once at create (sw_create). Ties go
 * to the lowest arm. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "policy_impl.h"

/* Lowest arm of the highest index mean_a + beta*sqrt(lt / n_a); every arm
 * has n_a > 0 (the callers play untried arms first). */
static int argmax_index(const splitee_policy *p, double lt)
{
    const double beta = p->cfg.beta;
    int best = 0;
    double best_idx = -INFINITY;
    for (int a = 0; a < p->arms; a++) {
        double idx = p->mean[a] + beta * sqrt(lt / p->n[a]);
        if (a == 0 || idx > best_idx) {
            best = a;
            best_idx = idx;
        }
    }
    return best;
}

/* ---- sliding window --------------------------------------------------- */

static int sw_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    if (p->untried)
        return splitee__policy_first_untried(p);
    long long t = p->rounds + 1;
    if (t > p->cfg.window)
        t = p->cfg.window;
    return argmax_index(p, log((double)t));
}

/* Forgets the oldest remembered reward; also from the fresh sums when it
 * was added after their last restart (only a ring overfilled by seeds
 * evicts such a reward). */
static void sw_evict(splitee_policy *p)
{
    const int old = p->win_arm[p->win_head];
    const double r = p->win_r[p->win_head];
    const long long round = p->win_round[p->win_head];
    p->win_head = p->win_head + 1 == p->win_cap ? 0 : p->win_head + 1;
    p->win_len--;
    p->n[old] -= 1;
    if (p->n[old] == 0) {           /* exactly zero: untried again */
        p->sum[old] = p->sumsq[old] = p->mean[old] = 0.0;
        p->untried++;
    } else {
        p->sum[old] -= r;
        p->sumsq[old] -= r * r;
        p->mean[old] = p->sum[old] / p->n[old];
    }
    if (round >= p->rounds - p->fresh_rounds) {
        p->fresh_n[old] -= 1;
        p->fresh_sum[old] = p->fresh_n[old] == 0 ? 0.0 : p->fresh_sum[old] - r;
        p->fresh_sumsq[old] = p->fresh_n[old] == 0 ? 0.0 : p->fresh_sumsq[old] - r * r;
    }
}

/* Remembers one reward of the current round (p->rounds). */
static void sw_push(splitee_policy *p, int arm, double r)
{
    if (p->win_len == p->win_cap)
        sw_evict(p);
    int slot = p->win_head + p->win_len;
    if (slot >= p->win_cap)
        slot -= p->win_cap;
    p->win_arm[slot] = (uint8_t)arm;
    p->win_r[slot] = r;
    p->win_round[slot] = p->rounds;
    p->win_len++;
    splitee__policy_update(p, arm, r);
    p->fresh_n[arm] += 1;
    p->fresh_sum[arm] += r;
    p->fresh_sumsq[arm] += r * r;
}

/* Starts round p->rounds: forgets the rewards of rounds <= p->rounds - W. */
static void sw_begin_round(splitee_policy *p)
{
    const long long oldest = p->rounds - p->cfg.window;
    while (p->win_len > 0 && p->win_round[p->win_head] <= oldest)
        sw_evict(p);
}

/* Ends the round; every W rounds the fresh sums, which then hold exactly
 * the window's rewards summed oldest first, replace the running ones. */
static void sw_end_round(splitee_policy *p)
{
    p->rounds++;
    if (++p->fresh_rounds < p->cfg.window)
        return;
    p->untried = 0;
    for (int a = 0; a < p->arms; a++) {
        p->n[a] = p->fresh_n[a];
        p->sum[a] = p->fresh_sum[a];
        p->sumsq[a] = p->fresh_sumsq[a];
        p->mean[a] = p->n[a] > 0 ? p->sum[a] / p->n[a] : 0.0;
        p->untried += p->n[a] == 0;
        p->fresh_n[a] = p->fresh_sum[a] = p->fresh_sumsq[a] = 0.0;
    }
    p->fresh_rounds = 0;
}

static void sw_observe(splitee_policy *p, const splitee_obs *ob)
{
    const int a = ob->arm;
    sw_begin_round(p);
    sw_push(p, a, splitee__played_reward(&p->rw, ob));
    sw_end_round(p);
}

/* sw-ucb-s: the lower arms' observable rewards, then the played arm's, all
 * stamped with this round. */
static void sw_side_observe(splitee_policy *p, const splitee_obs *ob)
{
    const int a = ob->arm;
    sw_begin_round(p);
    splitee__side_rewards(p, ob, sw_push);
    sw_push(p, a, splitee__played_reward(&p->rw, ob));
    sw_end_round(p);
}

static void sw_reset(splitee_policy *p)
{
    p->win_head = p->win_len = p->fresh_rounds = 0;
    for (int a = 0; a <= SPLITEE_MAX_EXITS; a++)
        p->fresh_n[a] = p->fresh_sum[a] = p->fresh_sumsq[a] = 0.0;
}

/* Appends a JSON array built by item(k) for k < len to o as `name`. */
static int add_items(cJSON *o, const char *name, int len, const splitee_policy *p,
                     cJSON *(*item)(const splitee_policy *, int))
{
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; arr && k < len; k++) {
        cJSON *x = item(p, k);
        if (!x || !cJSON_AddItemToArray(arr, x)) {
            cJSON_Delete(x);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    if (arr && cJSON_AddItemToObject(o, name, arr))
        return 0;
    cJSON_Delete(arr);
    return -1;
}

static int slot_of(const splitee_policy *p, int k)
{
    return (p->win_head + k) % p->win_cap;
}
static cJSON *item_arm(const splitee_policy *p, int k)
{
    return cJSON_CreateNumber(p->win_arm[slot_of(p, k)]);
}
static cJSON *item_reward(const splitee_policy *p, int k)
{
    return splitee__json_number(p->win_r[slot_of(p, k)]);
}
static cJSON *item_round(const splitee_policy *p, int k)
{
    return cJSON_CreateNumber((double)p->win_round[slot_of(p, k)]);
}

/* "window": W, "history": {"arm", "reward", "round"} oldest first (0-based
 * arms and rounds), and the fresh re-accumulation ("fresh_rounds",
 * "fresh_n", "fresh_sum", "fresh_sumsq"), so that a loaded policy rounds
 * exactly like the saved one. */
static int sw_save(const splitee_policy *p, cJSON *o)
{
    cJSON *h = cJSON_CreateObject();
    if (!h || !cJSON_AddItemToObject(o, "history", h)) {
        cJSON_Delete(h);
        return -1;
    }
    int ok = add_items(h, "arm", p->win_len, p, item_arm) == 0 &&
             add_items(h, "reward", p->win_len, p, item_reward) == 0 &&
             add_items(h, "round", p->win_len, p, item_round) == 0 &&
             cJSON_AddNumberToObject(o, "window", p->cfg.window) &&
             cJSON_AddNumberToObject(o, "fresh_rounds", p->fresh_rounds) &&
             splitee__state_add_array(o, "fresh_n", p->fresh_n, p->arms) == 0 &&
             splitee__state_add_array(o, "fresh_sum", p->fresh_sum, p->arms) == 0 &&
             splitee__state_add_array(o, "fresh_sumsq", p->fresh_sumsq, p->arms) == 0;
    return ok ? 0 : -1;
}

/* Checks (apply 0) that the history fits the window and agrees with the
 * counts n and the fresh counts, then (apply 1) lays it into the ring from
 * slot 0. */
static int sw_load(splitee_policy *p, const cJSON *o, const double *n, int apply,
                   splitee_error *err)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "window");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "history");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(o, "fresh_rounds");
    const cJSON *ha = cJSON_GetObjectItemCaseSensitive(h, "arm");
    const cJSON *hr = cJSON_GetObjectItemCaseSensitive(h, "reward");
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(h, "round");
    const double rounds = cJSON_GetObjectItemCaseSensitive(o, "rounds")->valuedouble;
    const int W = p->cfg.window;
    if (apply) {
        int len = cJSON_GetArraySize(ha), k = 0;
        const cJSON *a = ha->child, *r = hr->child, *d = hd->child;
        for (; k < len; k++, a = a->next, r = r->next, d = d->next) {
            p->win_arm[k] = (uint8_t)a->valuedouble;
            p->win_r[k] = r->valuedouble;
            p->win_round[k] = (long long)d->valuedouble;
        }
        p->win_head = 0;
        p->win_len = len;
        p->fresh_rounds = (int)fr->valuedouble;
        splitee__state_read_numbers(o, "fresh_n", p->arms, p->fresh_n, NULL);
        splitee__state_read_numbers(o, "fresh_sum", p->arms, p->fresh_sum, NULL);
        splitee__state_read_numbers(o, "fresh_sumsq", p->arms, p->fresh_sumsq, NULL);
        return SPLITEE_OK;
    }
    if (!cJSON_IsNumber(w))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "policy state: missing number \"window\"");
    if (w->valuedouble != W)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy state has a window of %g rounds, the policy %d",
                             w->valuedouble, W);
    if (!cJSON_IsArray(ha) || !cJSON_IsArray(hr) || !cJSON_IsArray(hd) ||
        cJSON_GetArraySize(ha) != cJSON_GetArraySize(hr) ||
        cJSON_GetArraySize(ha) != cJSON_GetArraySize(hd))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"history\" needs \"arm\", \"reward\" and \"round\" "
                             "arrays of one length");
    const int len = cJSON_GetArraySize(ha);
    if (len > p->win_cap)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: %d rewards in a history that holds %d", len, p->win_cap);
    if (!cJSON_IsNumber(fr) || !(fr->valuedouble >= 0 && fr->valuedouble < W &&
                                 fr->valuedouble <= rounds && fr->valuedouble == floor(fr->valuedouble)))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"fresh_rounds\" must be a whole number in 0..%d", W - 1);
    const double fresh_since = rounds - fr->valuedouble;
    double count[SPLITEE_MAX_EXITS] = { 0 }, fresh[SPLITEE_MAX_EXITS] = { 0 }, last = 0;
    const cJSON *a = ha->child, *r = hr->child, *d = hd->child;
    for (int k = 0; k < len; k++, a = a->next, r = r->next, d = d->next) {
        double x = cJSON_IsNumber(a) ? a->valuedouble : NAN;
        double rd = cJSON_IsNumber(d) ? d->valuedouble : NAN;
        if (!(x >= 0 && x < p->arms && x == floor(x)))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: history arm %d is not an arm in 0..%d", k, p->arms - 1);
        if (!cJSON_IsNumber(r) || !isfinite(r->valuedouble))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: history reward %d is not a finite number", k);
        if (!(rd >= rounds - W && rd >= last && rd <= rounds && rd == floor(rd)))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: history round %d is not in order within the "
                                 "last %d rounds", k, W);
        last = rd;
        count[(int)x] += 1;
        fresh[(int)x] += rd >= fresh_since;
    }
    double fn[SPLITEE_MAX_EXITS];
    int rc;
    if ((rc = splitee__state_read_numbers(o, "fresh_n", p->arms, fn, err)) < 0 ||
        (rc = splitee__state_read_numbers(o, "fresh_sum", p->arms, NULL, err)) < 0 ||
        (rc = splitee__state_read_numbers(o, "fresh_sumsq", p->arms, NULL, err)) < 0)
        return rc;
    for (int k = 0; k < p->arms; k++) {
        if (count[k] != n[k])
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: arm %d has %g plays but %g in the history",
                                 k, n[k], count[k]);
        if (fn[k] != fresh[k])
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: \"fresh_n\"[%d] does not match the history", k);
    }
    return SPLITEE_OK;
}

/* ---- discounted ------------------------------------------------------- */

static int d_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    if (p->untried)
        return splitee__policy_first_untried(p);
    double nt = 0;
    for (int a = 0; a < p->arms; a++)
        nt += p->n[a];
    return argmax_index(p, log(nt));
}

/* Discounts every arm by gamma, then adds the reward to `arm`. */
static void d_update(splitee_policy *p, int arm, double r)
{
    const double g = p->cfg.discount;
    for (int a = 0; a < p->arms; a++) {
        if (p->n[a] == 0)
            continue;
        p->n[a] *= g;
        p->sum[a] *= g;
        p->sumsq[a] *= g;
        if (p->n[a] == 0) {          /* underflow after a very long absence */
            p->sum[a] = p->sumsq[a] = p->mean[a] = 0.0;
            p->untried++;
        } else {
            p->mean[a] = p->sum[a] / p->n[a];
        }
    }
    splitee__policy_update(p, arm, r);
}

static void d_observe(splitee_policy *p, const splitee_obs *ob)
{
    const int a = ob->arm;
    d_update(p, a, splitee__played_reward(&p->rw, ob));
    p->rounds++;
}

/* d-ucb-s: index mean + beta*sqrt(ln n_t / N) with n_t the discounted
 * number of rounds, sum_{s < rounds} g^s = (1 - g^rounds) / (1 - g) (rounds
 * when g = 1), at least 1: side observations must not inflate the clock. */
static int d_side_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    if (p->untried)
        return splitee__policy_first_untried(p);
    const double g = p->cfg.discount, r = (double)p->rounds;
    double nt = g < 1 ? (1 - pow(g, r)) / (1 - g) : r;
    return argmax_index(p, log(fmax(nt, 1.0)));
}

/* d-ucb-s: discount every arm once, then credit the lower arms' observable
 * rewards and the played arm's. */
static void d_side_observe(splitee_policy *p, const splitee_obs *ob)
{
    const int a = ob->arm;
    d_update(p, a, splitee__played_reward(&p->rw, ob));
    splitee__side_rewards(p, ob, splitee__policy_update);
    p->rounds++;
}

static int d_save(const splitee_policy *p, cJSON *o)
{
    return splitee__json_add_number(o, "discount", p->cfg.discount) ? 0 : -1;
}

/* A seed is a reward of round p->rounds (not a round of its own). */
static void sw_seed(splitee_policy *p, int arm, double reward)
{
    sw_push(p, arm, reward);
}

/* The window's ring, allocated once: one reward per round (with side
 * observations up to one per arm), plus room for one seed per arm. */
static int sw_create(splitee_policy *p, splitee_error *err)
{
    size_t per_round = p->ops->observe == sw_side_observe ? (size_t)p->arms : 1;
    size_t cap = (size_t)p->cfg.window * per_round + (size_t)p->arms;
    p->win_cap = cap > INT_MAX ? 0 : (int)cap;
    if (p->win_cap) {
        p->win_arm = malloc(cap * sizeof *p->win_arm);
        p->win_r = malloc(cap * sizeof *p->win_r);
        p->win_round = malloc(cap * sizeof *p->win_round);
    }
    if (!p->win_arm || !p->win_r || !p->win_round)
        return splitee__fail(err, SPLITEE_ERR_NOMEM,
                             "policy: out of memory for a window of %d rounds", p->cfg.window);
    return 0;
}

static void sw_free(splitee_policy *p)
{
    free(p->win_arm);
    free(p->win_r);
    free(p->win_round);
}

static const splitee__policy_ops sw_ucb_ops = {
    .choose = sw_choose, .observe = sw_observe, .seed = sw_seed,
    .save_extra = sw_save, .load_extra = sw_load, .reset_extra = sw_reset,
    .create_extra = sw_create, .free_extra = sw_free
};
static const splitee__policy_ops sw_ucb_s_ops = {
    .choose = sw_choose, .observe = sw_side_observe, .seed = sw_seed,
    .save_extra = sw_save, .load_extra = sw_load, .reset_extra = sw_reset,
    .create_extra = sw_create, .free_extra = sw_free
};
static const splitee__policy_ops d_ucb_ops = {
    .choose = d_choose, .observe = d_observe, .seed = d_update, .save_extra = d_save,
    .fractional_counts = 1
};
static const splitee__policy_ops d_ucb_s_ops = {
    .choose = d_side_choose, .observe = d_side_observe, .seed = d_update, .save_extra = d_save,
    .fractional_counts = 1
};

#define SW SPLITEE_POLICY_PARAM_BETA | SPLITEE_POLICY_PARAM_WINDOW
#define D SPLITEE_POLICY_PARAM_BETA | SPLITEE_POLICY_PARAM_DISCOUNT
#define SIDE SPLITEE_POLICY_PARAM_SIDE_INFO
const splitee__policy_kind splitee__kind_sw_ucb = {
    { "sw-ucb", "sliding-window UCB: only the last W rounds count", SW, 1, 0, 0, NULL, 0 }, &sw_ucb_ops };
const splitee__policy_kind splitee__kind_d_ucb = {
    { "d-ucb", "discounted UCB: a round's weight decays by gamma per round", D, 1, 0, 0, NULL, 0 }, &d_ucb_ops };
const splitee__policy_kind splitee__kind_sw_ucb_s = {
    { "sw-ucb-s", "sw-ucb with SplitEE-S side observations", SW | SIDE, 1, 0, 0, NULL, 0 }, &sw_ucb_s_ops };
const splitee__policy_kind splitee__kind_d_ucb_s = {
    { "d-ucb-s", "d-ucb with SplitEE-S side observations", D | SIDE, 1, 0, 0, NULL, 0 }, &d_ucb_s_ops };
