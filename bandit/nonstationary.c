/* nonstationary.c -- UCB for a changing world (Garivier & Moulines, "On
 * upper-confidence bound policies for switching bandit problems", ALT 2011):
 *
 * sw-ucb  sliding-window UCB. Only the last W rounds count: N_t(W, a) plays
 *         and mean_t(W, a) of arm a among them; index
 *             mean_t(W, a) + beta * sqrt(xi * ln min(t, W) / N_t(W, a))
 *         with t = rounds observed + 1 (the round being decided, the clock
 *         SplitEE's UCB1 uses) and xi = 1, so that with W >= T the policy is
 *         SplitEE's UCB1 exactly. An arm with no play in the window is
 *         untried again and is played first (lowest first).
 * d-ucb   discounted UCB. Every round all counts and sums are multiplied by
 *         gamma before the played arm's reward is added:
 *             N_t(g, a) = sum_s g^(t-s) 1{a_s = a},  S_t(g, a) likewise with r_s;
 *         index S/N + beta * sqrt(xi * ln n_t / N_t(g, a)), n_t = sum_a N_t(g, a),
 *         xi = 1. (With gamma = 1, n_t = rounds: UCB1 with ln(t - 1).) An arm
 *         whose discounted count underflowed to 0 is untried again.
 *
 * The paper writes the padding B*sqrt(xi ln(.)/N) with B the reward range
 * and suggests xi = 0.6 (sw) or 0.5 < xi < 1 (d); here beta plays B*sqrt(xi)
 * (splitee's --beta, 1 by default) so every UCB policy shares one constant.
 *
 * Both are O(arms) per round with no allocation: the window's ring buffer
 * (W plays) is allocated once at create (policy.c). Ties go to the lowest
 * arm. Side observations (SplitEE-S) are not used: a windowed or discounted
 * variant with them is possible but counts a window in plays, not rounds. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
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

/* Forgets the oldest play of the window (which must be full). */
static void sw_evict(splitee_policy *p)
{
    const int old = p->win_arm[p->win_head];
    const double r = p->win_r[p->win_head];
    p->win_head = p->win_head + 1 == p->cfg.window ? 0 : p->win_head + 1;
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
}

/* Remembers one play: evicts the oldest when the window is full, adds the
 * new one, and every W plays replaces the running sums by the fresh ones,
 * which then hold exactly the window's plays summed oldest first. */
static void sw_push(splitee_policy *p, int arm, double r)
{
    const int W = p->cfg.window;
    if (p->win_len == W)
        sw_evict(p);
    int slot = p->win_head + p->win_len;
    if (slot >= W)
        slot -= W;
    p->win_arm[slot] = (uint8_t)arm;
    p->win_r[slot] = r;
    p->win_len++;
    splitee__policy_update(p, arm, r);
    p->fresh_n[arm] += 1;
    p->fresh_sum[arm] += r;
    p->fresh_sumsq[arm] += r * r;
    if (++p->fresh_plays == W) {
        p->untried = 0;
        for (int a = 0; a < p->arms; a++) {
            p->n[a] = p->fresh_n[a];
            p->sum[a] = p->fresh_sum[a];
            p->sumsq[a] = p->fresh_sumsq[a];
            p->mean[a] = p->n[a] > 0 ? p->sum[a] / p->n[a] : 0.0;
            p->untried += p->n[a] == 0;
            p->fresh_n[a] = p->fresh_sum[a] = p->fresh_sumsq[a] = 0.0;
        }
        p->fresh_plays = 0;
    }
}

static void sw_observe(splitee_policy *p, const splitee_obs *ob)
{
    const int a = ob->arm;
    sw_push(p, a, splitee__arm_reward(&p->rw, a, ob->conf[a], ob->conf_final));
    p->rounds++;
}

static void sw_seed(splitee_policy *p, int arm, double reward)
{
    sw_push(p, arm, reward);
}

static void sw_reset(splitee_policy *p)
{
    p->win_head = p->win_len = p->fresh_plays = 0;
    for (int a = 0; a <= SPLITEE_MAX_EXITS; a++)
        p->fresh_n[a] = p->fresh_sum[a] = p->fresh_sumsq[a] = 0.0;
}

/* "window": W, "history": {"arm": [...], "reward": [...]} oldest first
 * (0-based arms), and the fresh re-accumulation ("fresh_plays", "fresh_n",
 * "fresh_sum", "fresh_sumsq"), so that a loaded policy rounds exactly like
 * the saved one. */
static int sw_save(const splitee_policy *p, cJSON *o)
{
    cJSON *h = cJSON_CreateObject();
    cJSON *arms = cJSON_CreateArray(), *rs = cJSON_CreateArray();
    int ok = h && arms && rs;
    for (int k = 0; ok && k < p->win_len; k++) {
        int slot = (p->win_head + k) % p->cfg.window;
        cJSON *a = cJSON_CreateNumber(p->win_arm[slot]);
        cJSON *r = splitee__json_exact(p->win_r[slot]);
        ok = a && r && cJSON_AddItemToArray(arms, a) && cJSON_AddItemToArray(rs, r);
        if (!ok) {
            cJSON_Delete(a);
            cJSON_Delete(r);
        }
    }
    if (ok && cJSON_AddItemToObject(h, "arm", arms)) {
        arms = NULL;
        if (cJSON_AddItemToObject(h, "reward", rs))
            rs = NULL;
        else
            ok = 0;
    } else {
        ok = 0;
    }
    cJSON_Delete(arms);
    cJSON_Delete(rs);
    if (ok && cJSON_AddItemToObject(o, "history", h))
        h = NULL;
    else
        ok = 0;
    cJSON_Delete(h);
    cJSON *fn = splitee__json_exact_array(p->fresh_n, p->arms);
    cJSON *fs = splitee__json_exact_array(p->fresh_sum, p->arms);
    cJSON *fq = splitee__json_exact_array(p->fresh_sumsq, p->arms);
    ok = ok && cJSON_AddNumberToObject(o, "window", p->cfg.window) &&
         cJSON_AddNumberToObject(o, "fresh_plays", p->fresh_plays);
    if (ok && fn && cJSON_AddItemToObject(o, "fresh_n", fn))
        fn = NULL;
    else
        ok = 0;
    if (ok && fs && cJSON_AddItemToObject(o, "fresh_sum", fs))
        fs = NULL;
    else
        ok = 0;
    if (ok && fq && cJSON_AddItemToObject(o, "fresh_sumsq", fq))
        fq = NULL;
    else
        ok = 0;
    cJSON_Delete(fn);
    cJSON_Delete(fs);
    cJSON_Delete(fq);
    return ok ? 0 : -1;
}

/* Reads `len` finite numbers of array `name` of object o into v (v may be
 * NULL to check only). */
static int numbers(const cJSON *o, const char *name, int len, double *v, splitee_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != len)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"%s\" must be an array of %d numbers", name, len);
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: \"%s\"[%d] is not a finite number", name, i);
        if (v)
            v[i] = x->valuedouble;
        i++;
    }
    return SPLITEE_OK;
}

/* Checks (apply 0) that the history fits the window and agrees with the
 * counts n, then (apply 1) lays it into the ring from slot 0. */
static int sw_load(splitee_policy *p, const cJSON *o, const double *n, int apply,
                   splitee_error *err)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "window");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "history");
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(o, "fresh_plays");
    const cJSON *ha = cJSON_GetObjectItemCaseSensitive(h, "arm");
    const cJSON *hr = cJSON_GetObjectItemCaseSensitive(h, "reward");
    const int W = p->cfg.window;
    if (apply) {
        int len = cJSON_GetArraySize(ha), k = 0;
        const cJSON *a = ha->child, *r = hr->child;
        for (; k < len; k++, a = a->next, r = r->next) {
            p->win_arm[k] = (uint8_t)a->valuedouble;
            p->win_r[k] = r->valuedouble;
        }
        p->win_head = 0;
        p->win_len = len;
        p->fresh_plays = (int)fp->valuedouble;
        numbers(o, "fresh_n", p->arms, p->fresh_n, NULL);
        numbers(o, "fresh_sum", p->arms, p->fresh_sum, NULL);
        numbers(o, "fresh_sumsq", p->arms, p->fresh_sumsq, NULL);
        return SPLITEE_OK;
    }
    if (!cJSON_IsNumber(w))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "policy state: missing number \"window\"");
    if (w->valuedouble != W)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy state has a window of %g rounds, the policy %d",
                             w->valuedouble, W);
    if (!cJSON_IsArray(ha) || !cJSON_IsArray(hr) ||
        cJSON_GetArraySize(ha) != cJSON_GetArraySize(hr))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"history\" needs \"arm\" and \"reward\" arrays of one length");
    const int len = cJSON_GetArraySize(ha);
    if (len > W)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: %d plays in the history of a %d-round window", len, W);
    double count[SPLITEE_MAX_EXITS] = { 0 };
    const cJSON *a = ha->child, *r = hr->child;
    for (int k = 0; k < len; k++, a = a->next, r = r->next) {
        double x = cJSON_IsNumber(a) ? a->valuedouble : NAN;
        if (!(x >= 0 && x < p->arms && x == floor(x)))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: history arm %d is not an arm in 0..%d", k, p->arms - 1);
        if (!cJSON_IsNumber(r) || !isfinite(r->valuedouble))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: history reward %d is not a finite number", k);
        count[(int)x] += 1;
    }
    for (int k = 0; k < p->arms; k++)
        if (count[k] != n[k])
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: arm %d has %g plays but %g in the history",
                                 k, n[k], count[k]);
    if (!cJSON_IsNumber(fp) || !(fp->valuedouble >= 0 && fp->valuedouble < W &&
                                 fp->valuedouble <= len && fp->valuedouble == floor(fp->valuedouble)))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"fresh_plays\" must be a whole number in 0..%d", W - 1);
    double fn[SPLITEE_MAX_EXITS], total = 0;
    int rc;
    if ((rc = numbers(o, "fresh_n", p->arms, fn, err)) < 0 ||
        (rc = numbers(o, "fresh_sum", p->arms, NULL, err)) < 0 ||
        (rc = numbers(o, "fresh_sumsq", p->arms, NULL, err)) < 0)
        return rc;
    for (int k = 0; k < p->arms; k++) {
        if (fn[k] < 0 || fn[k] != floor(fn[k]) || fn[k] > n[k])
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: \"fresh_n\"[%d] is not a count within the window", k);
        total += fn[k];
    }
    if (total != fp->valuedouble)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"fresh_n\" does not add up to \"fresh_plays\"");
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
    d_update(p, a, splitee__arm_reward(&p->rw, a, ob->conf[a], ob->conf_final));
    p->rounds++;
}

static int d_save(const splitee_policy *p, cJSON *o)
{
    return cJSON_AddNumberToObject(o, "discount", p->cfg.discount) ? 0 : -1;
}

const splitee__policy_ops splitee__sw_ucb_ops = { sw_choose, sw_observe, sw_seed, sw_save,
                                                  sw_load, sw_reset };
const splitee__policy_ops splitee__d_ucb_ops = { d_choose, d_observe, d_update, d_save,
                                                 NULL, NULL };
