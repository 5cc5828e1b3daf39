/* fuzz_state.c -- libFuzzer target: saved policy state
 * (bandit/policy.c and nonstationary.c: splitee_policy_restore), as
 * `splitee device --state FILE` reads it.
 *
 * Input: one byte choosing the policy kind (mod the number of kinds), then
 * the state's JSON text. A refusal must be one line and leave the policy as
 * it was (its next choice equals a fresh policy's); a state that restores
 * must play and learn without a crash, and save to text that restores to
 * the same choices. */
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>

#include "splitee/splitee.h"

static splitee_policy *make(splitee_policy_kind kind, const splitee_reward *rw)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = kind;
    pc.fixed_arm = 2;
    pc.window = 50;
    splitee_policy *p = NULL;
    if (splitee_policy_create(&pc, rw, &p, NULL) < 0)
        abort();
    return p;
}

static void play(splitee_policy *p, const splitee_reward *rw, gsl_rng *r, int rounds, int *arms)
{
    double conf[SPLITEE_MAX_EXITS];
    for (int t = 0; t < rounds; t++) {
        for (int a = 0; a < rw->arms; a++)
            conf[a] = 0.3 + 0.7 * ((t * 7 + a * 13) % 10) / 10.0;
        int arm = splitee_policy_choose(p, r);
        if (arm < 0 || arm >= rw->arms)
            abort();
        if (arms)
            arms[t] = arm;
        splitee_obs ob = { arm, conf, conf[arm] < rw->alpha && arm < rw->arms - 1, 1, conf[rw->arms - 1] };
        splitee_policy_observe(p, &ob);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    splitee_policy_kind kind = (splitee_policy_kind)(data[0] % SPLITEE_POLICY_KIND_COUNT);
    char *json = malloc(size);
    if (!json)
        abort();
    memcpy(json, data + 1, size - 1);
    json[size - 1] = '\0';
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    splitee_reward rw;
    if (splitee_reward_init(&rw, &rc, 6, NULL) < 0)
        abort();
    splitee_policy *p = make(kind, &rw), *fresh = make(kind, &rw);
    gsl_rng *r1 = gsl_rng_alloc(gsl_rng_mt19937), *r2 = gsl_rng_alloc(gsl_rng_mt19937);
    splitee_error err = { 0, "" };
    int rc_ = splitee_policy_restore(p, json, &err);
    if (rc_ < 0) {
        if (err.status != rc_ || !err.msg[0] || strchr(err.msg, '\n'))
            abort();
        int a1[20], a2[20];
        gsl_rng_set(r1, 3);
        gsl_rng_set(r2, 3);
        play(p, &rw, r1, 20, a1);
        play(fresh, &rw, r2, 20, a2);
        if (memcmp(a1, a2, sizeof a1) != 0)
            abort();   /* a refused state changed the policy */
    } else {
        gsl_rng_set(r1, 5);
        play(p, &rw, r1, 30, NULL);
        char *saved = splitee_policy_save(p);
        if (!saved)
            abort();
        splitee_policy *q = make(kind, &rw);
        if (splitee_policy_restore(q, saved, &err) < 0)
            abort();   /* what splitee saves, it restores */
        int a1[20], a2[20];
        gsl_rng_set(r1, 9);
        gsl_rng_set(r2, 9);
        play(p, &rw, r1, 20, a1);
        play(q, &rw, r2, 20, a2);
        if (memcmp(a1, a2, sizeof a1) != 0)
            abort();
        free(saved);
        splitee_policy_free(q);
    }
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    splitee_policy_free(p);
    splitee_policy_free(fresh);
    free(json);
    return 0;
}
