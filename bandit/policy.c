/* policy.c -- the policy object behind include/splitee/bandit.h: creation
 * and validation, the shared per-arm statistics, dispatch to the per-family
 * vtables (ucb.c, baselines.c, greedy.c, thompson.c, nonstationary.c), JSON
 * save/load and the
 * policy names the CLI uses. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "policy_impl.h"

/* The registry: every kind's traits and operations (policy_impl.h). Adding
 * a policy adds its enum value (bandit.h), its kind beside its operations
 * in a family file, its extern (policy_impl.h) and one line here. */
static const splitee__policy_kind *const kinds[SPLITEE_POLICY_KIND_COUNT] = {
    [SPLITEE_POLICY_KIND_SPLITEE] = &splitee__kind_splitee,
    [SPLITEE_POLICY_KIND_SPLITEE_S] = &splitee__kind_splitee_s,
    [SPLITEE_POLICY_KIND_FINAL] = &splitee__kind_final,
    [SPLITEE_POLICY_KIND_RANDOM] = &splitee__kind_random,
    [SPLITEE_POLICY_KIND_FIXED] = &splitee__kind_fixed,
    [SPLITEE_POLICY_KIND_ORACLE] = &splitee__kind_oracle,
    [SPLITEE_POLICY_KIND_EE_THRESHOLD] = &splitee__kind_ee_threshold,
    [SPLITEE_POLICY_KIND_EPSILON_GREEDY] = &splitee__kind_epsilon_greedy,
    [SPLITEE_POLICY_KIND_THOMPSON] = &splitee__kind_thompson,
    [SPLITEE_POLICY_KIND_KL_UCB] = &splitee__kind_kl_ucb,
    [SPLITEE_POLICY_KIND_UCB_V] = &splitee__kind_ucb_v,
    [SPLITEE_POLICY_KIND_SW_UCB] = &splitee__kind_sw_ucb,
    [SPLITEE_POLICY_KIND_D_UCB] = &splitee__kind_d_ucb,
    [SPLITEE_POLICY_KIND_SW_UCB_S] = &splitee__kind_sw_ucb_s,
    [SPLITEE_POLICY_KIND_D_UCB_S] = &splitee__kind_d_ucb_s,
    [SPLITEE_POLICY_KIND_SPLITEE_ALPHA] = &splitee__kind_splitee_alpha,
};

static const char *kind_name(splitee_policy_kind k)
{
    return kinds[k]->info.name;
}

/* Defaults of bandit.h: splitee, beta 1, epsilon .05, prior_sd .5, arm 0,
 * honest, window 1000, discount 0.999, the default alpha grid. */
void splitee_policy_config_default(splitee_policy_config *cfg)
{
    cfg->kind = SPLITEE_POLICY_KIND_SPLITEE;
    cfg->beta = 1.0;
    cfg->epsilon = 0.05;
    cfg->prior_sd = 0.5;
    cfg->fixed_arm = 0;
    cfg->side_info = SPLITEE_SIDE_INFO_HONEST;
    cfg->window = 1000;
    cfg->discount = 0.999;
    cfg->alpha_grid = NULL;
    cfg->alpha_grid_n = 0;
}

/* Checks a configuration against a reward model; 0 or SPLITEE_ERR_ARG. */
static int check_config(const splitee_policy_config *cfg, const splitee_reward *rw,
                        splitee_error *err)
{
    if ((int)cfg->kind < 0 || cfg->kind >= SPLITEE_POLICY_KIND_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "unknown policy kind %d", (int)cfg->kind);
    if (rw->arms < 1 || rw->arms > SPLITEE_MAX_EXITS)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy: number of arms must be in 1..%d (got %d)",
                             SPLITEE_MAX_EXITS, rw->arms);
    if (!isfinite(rw->alpha) || !isfinite(rw->mu))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy: reward model has a non-finite alpha or mu");
    if (!splitee_exit_kind_info(rw->exit.kind) || rw->exit.exits != rw->arms)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy: the reward model's exit rule is not one for %d exits "
                             "(build the model with splitee_reward_init)", rw->arms);
    for (int a = 0; a < rw->arms; a++)
        if (!isfinite(rw->gamma[a]) || !isfinite(rw->offload[a]))
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "policy: reward model has a non-finite cost at layer %d",
                                 a + 1);
    if (!isfinite(cfg->beta) || cfg->beta < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "beta (UCB constant) must be a finite number >= 0 (got %g)",
                             cfg->beta);
    if (!(cfg->epsilon >= 0 && cfg->epsilon <= 1))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "epsilon must be in [0, 1] (got %g)", cfg->epsilon);
    const unsigned params = kinds[cfg->kind]->info.params;
    if ((params & SPLITEE_POLICY_PARAM_WINDOW) && (cfg->window < 1 || cfg->window > 100000000))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "window (sw-ucb) must be 1..100000000 rounds (got %d)", cfg->window);
    if ((params & SPLITEE_POLICY_PARAM_DISCOUNT) && !(cfg->discount > 0 && cfg->discount <= 1))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "discount (d-ucb) must be in (0, 1] (got %g)", cfg->discount);
    if (!isfinite(cfg->prior_sd) || cfg->prior_sd < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "prior_sd (Thompson noise s.d.) must be a finite number >= 0 (got %g)",
                             cfg->prior_sd);
    if (cfg->side_info != SPLITEE_SIDE_INFO_HONEST &&
        cfg->side_info != SPLITEE_SIDE_INFO_REFERENCE)
        return splitee__fail(err, SPLITEE_ERR_ARG, "unknown side-information mode %d",
                             (int)cfg->side_info);
    if (((params & SPLITEE_POLICY_PARAM_LAYER) || kinds[cfg->kind]->info.hindsight) &&
        (cfg->fixed_arm < 0 || cfg->fixed_arm >= rw->arms))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "%s: layer %d is out of range (the network has %d layers)",
                             kind_name(cfg->kind), cfg->fixed_arm + 1, rw->arms);
    return SPLITEE_OK;
}

/* Bounds of any reward under rw, assuming confidences in [0, 1]: an exit or
 * the last arm gives [0 - mu*gamma_a, 1 - mu*gamma_a], an offload gives
 * [0 - mu*o_a - mu*gamma_a, 1 - mu*o_a - mu*gamma_a]. */
static void reward_bounds(const splitee_reward *rw, double *lo, double *hi)
{
    double l = INFINITY, h = -INFINITY;
    for (int a = 0; a < rw->arms; a++) {
        double dev_lo = 0.0 - rw->mu * rw->gamma[a], dev_hi = 1.0 - rw->mu * rw->gamma[a];
        l = fmin(l, dev_lo);
        h = fmax(h, dev_hi);
        if (a < rw->arms - 1) {
            l = fmin(l, 0.0 - rw->mu * rw->offload[a] - rw->mu * rw->gamma[a]);
            h = fmax(h, 1.0 - rw->mu * rw->offload[a] - rw->mu * rw->gamma[a]);
        }
    }
    *lo = l;
    *hi = h;
}

/* Validates cfg and rw, allocates the one block the policy ever uses and
 * resets it; *out is NULL on failure (bandit.h). */
int splitee_policy_create(const splitee_policy_config *cfg,
                          const splitee_reward *rw, splitee_policy **out,
                          splitee_error *err)
{
    int rc;
    if (!out)
        return splitee__fail(err, SPLITEE_ERR_ARG, "policy: no output pointer");
    *out = NULL;
    if (!cfg || !rw)
        return splitee__fail(err, SPLITEE_ERR_ARG, "policy: missing configuration or reward model");
    if ((rc = check_config(cfg, rw, err)) < 0)
        return rc;
    splitee_policy *p = calloc(1, sizeof *p);
    if (!p)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "policy: out of memory");
    p->ops = kinds[cfg->kind]->ops;
    p->cfg = *cfg;
    p->rw = *rw;
    p->arms = rw->arms;
    p->needs_pred = splitee_exit_kind_info(rw->exit.kind)->reads_pred;
    reward_bounds(rw, &p->lo, &p->hi);
    if (p->ops->create_extra && (rc = p->ops->create_extra(p, err)) < 0) {
        splitee_policy_free(p);
        return rc;
    }
    splitee_policy_reset(p);
    *out = p;
    return SPLITEE_OK;
}

/* Releases the policy; NULL is a no-op. */
void splitee_policy_free(splitee_policy *p)
{
    if (!p)
        return;
    if (p->ops->free_extra)
        p->ops->free_extra(p);
    free(p);
}

/* Back to the freshly created state: no plays, round counter 0. */
void splitee_policy_reset(splitee_policy *p)
{
    p->rounds = 0;
    p->hint = 0;
    p->untried = p->arms;
    for (int a = 0; a <= SPLITEE_MAX_EXITS; a++) {   /* kl-ucb's cache: empty */
        p->kl_tau[a] = -INFINITY;
        p->kl_q[a] = -1;
        p->kl_hx[a] = -1;
    }
    for (int a = 0; a <= SPLITEE_MAX_EXITS; a++) {
        p->sum[a] = p->sumsq[a] = p->mean[a] = 0.0;
        p->n[a] = a < p->arms ? 0.0 : 1.0;   /* padding: see policy_impl.h */
    }
    if (p->ops->reset_extra)
        p->ops->reset_extra(p);
}

/* Dispatches to the family's choose (no allocation, O(arms)). */
int splitee_policy_choose(splitee_policy *p, gsl_rng *rng)
{
    return p->ops->choose(p, rng);
}

/* Dispatches to the family's observe; an observation with no confidences
 * or an arm out of range is ignored (there is no status to return). */
void splitee_policy_observe(splitee_policy *p, const splitee_obs *ob)
{
    if (!ob || ob->arm < 0 || ob->arm >= p->arms || !ob->conf)
        return;
    p->ops->observe(p, ob);
}

/* Credits the played arm (see policy_impl.h) and counts the round. */
void splitee__observe_played(splitee_policy *p, const splitee_obs *ob)
{
    splitee__policy_update(p, ob->arm, splitee__played_reward(&p->rw, ob));
    p->rounds++;
}

/* Side observations under a rule stepped exit by exit (policy_impl.h). */
void splitee__side_rewards_stepped(splitee_policy *p, const splitee_obs *ob, int use_final,
                                   void (*credit)(splitee_policy *, int, double))
{
    const splitee_reward *rw = &p->rw;
    if (p->needs_pred && !ob->pred)
        return;                  /* what lower exits would do is unknown */
    splitee_exit_state st;
    splitee_exit_begin(&rw->exit, &st);
    for (int j = 0; j < ob->arm; j++) {
        double cj = ob->conf[j];
        int exits = splitee_exit_step(&rw->exit, &st, cj, ob->pred ? ob->pred[j] : -1);
        if (exits || use_final)
            credit(p, j, splitee__arm_reward(rw, j, exits, cj, ob->conf_final));
    }
}

/* One reward for `arm` without advancing the round counter; an arm out of
 * range is ignored. */
void splitee_policy_seed_arm(splitee_policy *p, int arm, double reward)
{
    if (arm < 0 || arm >= p->arms)
        return;
    if (p->ops->seed)
        p->ops->seed(p, arm, reward);
    else
        splitee__policy_update(p, arm, reward);
}

/* New offloading costs for the rounds to come (bandit.h); the bounds only
 * ever widen, so rewards already rescaled stay inside them. */
void splitee_policy_set_offload(splitee_policy *p, const double *o)
{
    if (!p || !o)
        return;
    for (int a = 0; a < p->arms; a++)
        if (isfinite(o[a]) && o[a] >= 0)
            p->rw.offload[a] = o[a];
    double lo, hi;
    reward_bounds(&p->rw, &lo, &hi);
    p->lo = fmin(p->lo, lo);
    p->hi = fmax(p->hi, hi);
}

/* The chosen pair's alpha (splitee-alpha), else the reward model's. */
double splitee_policy_alpha(const splitee_policy *p)
{
    if (p->grid && p->cur_pair >= 0)
        return p->grid[p->cur_pair % p->grid_n];
    return p->rw.alpha;
}

/* Number of arms L. */
int splitee_policy_arms(const splitee_policy *p)
{
    return p->arms;
}

/* Plays of `arm` (side observations included); NaN if out of range. */
double splitee_policy_count(const splitee_policy *p, int arm)
{
    return arm >= 0 && arm < p->arms ? p->n[arm] : NAN;
}

/* Mean reward of `arm` (0 if never observed); NaN if out of range. */
double splitee_policy_mean(const splitee_policy *p, int arm)
{
    return arm >= 0 && arm < p->arms ? p->mean[arm] : NAN;
}

/* observe() calls since create, reset or the loaded state. */
long long splitee_policy_rounds(const splitee_policy *p)
{
    return p->rounds;
}

/* Highest mean among observed arms, lowest on ties; 0 if none observed. */
int splitee_policy_best_arm(const splitee_policy *p)
{
    int best = -1;
    for (int a = 0; a < p->arms; a++)
        if (p->n[a] > 0 && (best < 0 || p->mean[a] > p->mean[best]))
            best = a;
    return best < 0 ? 0 : best;
}

/* ---- save / load ---------------------------------------------------- */

int splitee__state_add_array(cJSON *obj, const char *name, const double *v, int n)
{
    cJSON *arr = splitee__json_numbers(v, n);
    return arr && cJSON_AddItemToObject(obj, name, arr) ? 0 : (cJSON_Delete(arr), -1);
}

int splitee__state_read_numbers(const cJSON *o, const char *name, int len, double *v,
                                splitee_error *err)
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

/* Serialises kind, parameters, rounds and per-arm n/sum/sumsq as JSON
 * (cJSON prints doubles so that they read back exactly); malloc'd text the
 * caller frees, NULL on allocation failure. */
char *splitee_policy_save(const splitee_policy *p)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    int ok = o &&
        cJSON_AddStringToObject(o, "kind", kind_name(p->cfg.kind)) &&
        cJSON_AddNumberToObject(o, "arms", p->arms) &&
        splitee__json_add_number(o, "beta", p->cfg.beta) &&
        splitee__json_add_number(o, "epsilon", p->cfg.epsilon) &&
        splitee__json_add_number(o, "prior_sd", p->cfg.prior_sd) &&
        cJSON_AddNumberToObject(o, "fixed_arm", p->cfg.fixed_arm) &&
        cJSON_AddStringToObject(o, "side_info",
                                p->cfg.side_info == SPLITEE_SIDE_INFO_REFERENCE
                                    ? "reference" : "honest") &&
        cJSON_AddNumberToObject(o, "rounds", (double)p->rounds) &&
        splitee__state_add_array(o, "n", p->n, p->arms) == 0 &&
        splitee__state_add_array(o, "sum", p->sum, p->arms) == 0 &&
        splitee__state_add_array(o, "sumsq", p->sumsq, p->arms) == 0 &&
        (!p->ops->save_extra || p->ops->save_extra(p, o) == 0);
    if (ok)
        text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

/* Largest double below which every integer is exact (2^53). */
#define EXACT_INT_MAX 9007199254740992.0

/* Reads array `name` of `arms` finite numbers into v; counts (nonneg) also
 * must be whole numbers >= 0. Returns 0 or SPLITEE_ERR_FORMAT. */
static int load_array(const cJSON *o, const char *name, int arms, int nonneg,
                      int whole, double *v, splitee_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsArray(arr))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: missing array \"%s\"", name);
    if (cJSON_GetArraySize(arr) != arms)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"%s\" has %d values, expected %d",
                             name, cJSON_GetArraySize(arr), arms);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        double x = cJSON_IsNumber(it) ? it->valuedouble : NAN;
        if (!isfinite(x))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: \"%s\"[%d] is not a finite number", name, i);
        if (nonneg && x < 0)
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: \"%s\"[%d] is negative (%g)", name, i, x);
        if (whole && (x != floor(x) || x > EXACT_INT_MAX))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: \"%s\"[%d] is not a whole count (%g)",
                                 name, i, x);
        v[i++] = x;
    }
    return SPLITEE_OK;
}

/* Validates a parsed state object against p and copies it into the scratch
 * arrays; p itself is not touched. */
static int parse_state(const splitee_policy *p, const cJSON *o, double *rounds,
                       double *n, double *sum, double *sumsq, splitee_error *err)
{
    int rc;
    if (!cJSON_IsObject(o))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "policy state: not a JSON object");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *arms = cJSON_GetObjectItemCaseSensitive(o, "arms");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rounds");
    if (!cJSON_IsString(kind))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "policy state: missing string \"kind\"");
    if (!cJSON_IsNumber(arms) || !isfinite(arms->valuedouble))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "policy state: missing number \"arms\"");
    if (!cJSON_IsNumber(r) || !isfinite(r->valuedouble) || r->valuedouble < 0 ||
        r->valuedouble != floor(r->valuedouble) || r->valuedouble > EXACT_INT_MAX)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "policy state: \"rounds\" must be a whole number >= 0");
    if (strcmp(kind->valuestring, kind_name(p->cfg.kind)) != 0)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy state is for \"%.64s\", not \"%s\"",
                             kind->valuestring, kind_name(p->cfg.kind));
    if (arms->valuedouble != p->arms)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy state has %g arms, the policy has %d",
                             arms->valuedouble, p->arms);
    /* d-ucb's discounted counts are not whole numbers */
    const int whole = !p->ops->fractional_counts;
    if ((rc = load_array(o, "n", p->arms, 1, whole, n, err)) < 0 ||
        (rc = load_array(o, "sum", p->arms, 0, 0, sum, err)) < 0 ||
        (rc = load_array(o, "sumsq", p->arms, 1, 0, sumsq, err)) < 0)
        return rc;
    for (int a = 0; a < p->arms; a++)
        if (n[a] == 0 && (sum[a] != 0 || sumsq[a] != 0))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: arm %d has rewards but no plays", a);
    *rounds = r->valuedouble;
    return SPLITEE_OK;
}

/* Parses and validates everything into scratch arrays first, so that p is
 * untouched on any failure; the policy keeps its own parameters (beta,
 * epsilon, ...), only the learned state is restored. */
int splitee_policy_restore(splitee_policy *p, const char *json, splitee_error *err)
{
    double rounds = 0, n[SPLITEE_MAX_EXITS], sum[SPLITEE_MAX_EXITS], sumsq[SPLITEE_MAX_EXITS];
    if (!json)
        return splitee__fail(err, SPLITEE_ERR_ARG, "policy state: no text");
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "policy state: malformed JSON");
    int rc = parse_state(p, o, &rounds, n, sum, sumsq, err);
    if (rc == 0 && p->ops->load_extra)
        rc = p->ops->load_extra(p, o, n, 0, err);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    splitee_policy_reset(p);
    p->rounds = (long long)rounds;
    for (int a = 0; a < p->arms; a++) {
        p->n[a] = n[a];
        p->sum[a] = sum[a];
        p->sumsq[a] = sumsq[a];
        if (n[a] > 0) {
            p->mean[a] = sum[a] / n[a];
            p->untried--;
        }
    }
    if (p->ops->load_extra)
        p->ops->load_extra(p, o, n, 1, NULL);
    cJSON_Delete(o);
    return SPLITEE_OK;
}

/* ---- names ---------------------------------------------------------- */

const splitee_policy_info *splitee_policy_kind_info(splitee_policy_kind kind)
{
    if ((int)kind < 0 || kind >= SPLITEE_POLICY_KIND_COUNT)
        return NULL;
    return &kinds[kind]->info;
}

/* CLI name of a kind; "unknown" for a value outside the enum. */
const char *splitee_policy_kind_name(splitee_policy_kind kind)
{
    if ((int)kind < 0 || kind >= SPLITEE_POLICY_KIND_COUNT)
        return "unknown";
    return kind_name(kind);
}

void splitee_policy_display_name(const splitee_policy_config *pc, char *buf, size_t len)
{
    if (kinds[pc->kind]->info.params & SPLITEE_POLICY_PARAM_LAYER)
        snprintf(buf, len, "%s:%d", kind_name(pc->kind), pc->fixed_arm + 1);
    else
        snprintf(buf, len, "%s", splitee_policy_kind_name(pc->kind));
}

/* Name -> kind (and fixed_arm for "fixed:K", K >= 1, 1-based); cfg is
 * untouched on failure. The range of K is checked by create. */
int splitee_policy_parse(const char *s, splitee_policy_config *cfg)
{
    if (!s || !cfg)
        return SPLITEE_ERR_ARG;
    if (strncmp(s, "fixed:", 6) == 0) {
        const char *k = s + 6;
        char *end;
        if (*k < '0' || *k > '9')
            return SPLITEE_ERR_ARG;
        errno = 0;
        long layer = strtol(k, &end, 10);
        if (*end != '\0' || errno == ERANGE || layer < 1 || layer > INT_MAX)
            return SPLITEE_ERR_ARG;
        cfg->kind = SPLITEE_POLICY_KIND_FIXED;
        cfg->fixed_arm = (int)layer - 1;
        return SPLITEE_OK;
    }
    for (int k = 0; k < SPLITEE_POLICY_KIND_COUNT; k++)
        if (!(kinds[k]->info.params & SPLITEE_POLICY_PARAM_LAYER) && strcmp(s, kind_name(k)) == 0) {
            cfg->kind = (splitee_policy_kind)k;
            return SPLITEE_OK;
        }
    return SPLITEE_ERR_ARG;
}
