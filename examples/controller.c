/* controller.c -- the SplitEE controller embedded in a device program.
 *
 * A device runs a multi-exit network layer by layer. Before each input the
 * controller picks a split layer; the device runs layers 1..layer, reads
 * the exit's confidence there and either answers on its own (confidence >=
 * alpha, or the last layer) or sends the activation to the cloud, which
 * finishes the network and returns the last exit's answer. The controller
 * learns, from confidences alone (no labels), which layer gives the best
 * trade-off of confidence against device and offloading cost.
 *
 * This program uses the public API only (<splitee/splitee.h>) and reads no
 * files: instead of a network it synthesises each input's per-exit
 * confidences from a seeded generator, with a structure whose best layer
 * is known in advance (see "The made-up network" below). It prints what the
 * controller learned and exits with status 1 if the controller did not
 * settle on that layer, so it doubles as a test (examples/meson.build).
 *
 *     controller [POLICY]    POLICY as the CLI spells it (bandit.h),
 *                            default splitee-s; `controller final` must
 *                            fail, since "final" never learns anything
 *
 * Build it as any program that uses an installed libsplitee:
 *     cc controller.c $(pkg-config --cflags --libs splitee) -o controller
 */
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_rng.h>
#include <splitee/splitee.h>

#define LAYERS 8          /* exits of the made-up network */
#define ROUNDS 20000      /* inputs the device processes */
#define SEED 42           /* both generators; same seed, same run */

/* The made-up network.
 *
 * 70 % of the inputs are "easy": the exits of layers 1-2 are unsure (0.55)
 * and from layer 3 on they are sure (0.95). The other 30 % are "hard":
 * every exit is unsure (0.45) except the last one (0.90), so they need the
 * whole network -- on the device or, after offloading, in the cloud. Each
 * confidence gets uniform noise of +-0.04, which never moves it across
 * alpha = 0.8, so the noise-free rows give the exact expected rewards.
 *
 * With device cost lambda = 0.1 per layer, offloading cost o = 0.5 and
 * mu = 1 (reward.h), the expected reward of splitting after layer i is
 *   layer 1: all offload        0.935 - 0.1 - 0.5             = 0.335
 *   layer 3: easy exit, hard    0.7 * (0.95 - 0.3)
 *            offloaded        + 0.3 * (0.90 - 0.3 - 0.5)       = 0.485
 *   layer 4:                    0.7 * (0.95 - 0.4) + 0.3 * 0.0 = 0.385
 *   layer 8: all on the device  0.935 - 0.8                    = 0.135
 * so layer 3 is best, by 0.1 over the runner-up. */
#define EASY_SHARE 0.7
#define NOISE 0.04
#define BEST_LAYER 3

static void noise_free_row(int easy, double *conf)
{
    for (int i = 0; i < LAYERS; i++)   /* conf[i]: exit of layer i+1 */
        conf[i] = easy ? (i + 1 >= 3 ? 0.95 : 0.55) : 0.45;
    if (!easy)
        conf[LAYERS - 1] = 0.90;
}

/* One input's confidences at every exit. A real device only ever learns
 * conf[0..layer-1], and conf[LAYERS-1] when it offloads. */
static void next_input(gsl_rng *world, double *conf)
{
    noise_free_row(gsl_rng_uniform(world) < EASY_SHARE, conf);
    for (int i = 0; i < LAYERS; i++)
        conf[i] += NOISE * (2.0 * gsl_rng_uniform(world) - 1.0);
}

int main(int argc, char **argv)
{
    splitee_error err;

    /* 1. The reward model: what a layer's answer is worth, in confidence
     *    units, against the cost of getting it. */
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.alpha = 0.8;    /* exit on the device when the confidence reaches this */
    rc.lambda = 0.1;   /* device cost per layer run */
    rc.mu = 1.0;       /* cost -> confidence units */
    rc.offload = 0.5;  /* cost of one offload (e.g. from `splitee link`) */
    splitee_reward rw;
    if (splitee_reward_init(&rw, &rc, LAYERS, &err) < 0) {
        fprintf(stderr, "controller: %s\n", err.msg);
        return 2;
    }

    /* 2. The policy: SplitEE-S, UCB over split layers that also learns about
     *    the layers below the one it played (or the one named on the
     *    command line). */
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = SPLITEE_POLICY_KIND_SPLITEE_S;
    if (argc > 1 && splitee_policy_parse(argv[1], &pc) < 0) {
        fprintf(stderr, "controller: unknown policy '%s'\n", argv[1]);
        return 2;
    }
    splitee_policy *policy;
    if (splitee_policy_create(&pc, &rw, &policy, &err) < 0) {
        fprintf(stderr, "controller: %s\n", err.msg);
        return 2;
    }

    /* The exact expected reward of each layer, for the regret only: the
     * controller never sees it. */
    double easy[LAYERS], hard[LAYERS], mean[LAYERS];
    noise_free_row(1, easy);
    noise_free_row(0, hard);
    int best = 0;
    for (int a = 0; a < LAYERS; a++) {
        mean[a] = EASY_SHARE * splitee_reward_outcome(&rw, a, easy).reward +
                  (1 - EASY_SHARE) * splitee_reward_outcome(&rw, a, hard).reward;
        if (mean[a] > mean[best])
            best = a;
    }
    if (best + 1 != BEST_LAYER) {   /* the comment above would be wrong */
        fprintf(stderr, "controller: expected best layer %d, the rewards say %d\n", BEST_LAYER,
                best + 1);
        return 2;
    }

    /* 3. The device loop. `world` stands in for the inputs; `rng` is the
     *    policy's own generator (SplitEE-S draws nothing, others do). */
    gsl_rng *world = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!world || !rng) {
        fprintf(stderr, "controller: out of memory\n");
        return 2;
    }
    gsl_rng_set(world, SEED);
    gsl_rng_set(rng, SEED);

    double regret = 0;         /* pseudo-regret: sum of mean[best] - mean[played] */
    long late_best = 0;        /* plays of the best layer in the second half */
    long offloads = 0;
    for (long t = 0; t < ROUNDS; t++) {
        double conf[LAYERS];
        next_input(world, conf);

        int arm = splitee_policy_choose(policy, rng);   /* split after layer arm+1 */
        /* ... the device runs layers 1..arm+1 and reads conf[0..arm] ... */
        int offloaded = arm < LAYERS - 1 && conf[arm] < rw.alpha;
        /* ... if offloaded, the cloud finishes and returns conf[LAYERS-1] ... */
        splitee_obs ob = {
            .arm = arm,
            .conf = conf,                 /* only conf[0..arm] is read */
            .offloaded = offloaded,
            .final_known = offloaded || arm == LAYERS - 1,
            .conf_final = conf[LAYERS - 1],  /* read only when final_known */
        };
        splitee_policy_observe(policy, &ob);

        offloads += offloaded;
        regret += mean[best] - mean[arm];
        if (t >= ROUNDS / 2 && arm == best)
            late_best++;
    }

    int learned = splitee_policy_best_arm(policy);
    double late_share = (double)late_best / (ROUNDS - ROUNDS / 2);
    /* Observations include SplitEE-S's side observations of lower layers;
     * their learned means lean low, since a lower layer is only seen when
     * its answer was observable (bandit.h, "honest" side information). */
    printf("layer  observations  mean reward (learned)  expected\n");
    for (int a = 0; a < LAYERS; a++)
        printf("%5d %13.0f %22.4f %9.4f%s\n", a + 1, splitee_policy_count(policy, a),
               splitee_policy_mean(policy, a), mean[a], a == best ? "  <- best" : "");
    char name[32];
    splitee_policy_display_name(&pc, name, sizeof name);
    printf("policy %s, rounds %d, offloaded %.1f %%\n", name, ROUNDS, 100.0 * offloads / ROUNDS);
    printf("learned layer %d (best %d), best layer played in %.1f %% of the second half\n",
           learned + 1, best + 1, 100.0 * late_share);
    printf("pseudo-regret %.2f (%.4f per round; always layer 1 would lose %.2f)\n", regret,
           regret / ROUNDS, ROUNDS * (mean[best] - mean[0]));

    splitee_policy_free(policy);
    gsl_rng_free(world);
    gsl_rng_free(rng);

    /* Settled means: the best layer has the highest learned mean and the
     * controller plays it almost always once it has learned. */
    if (learned != best || late_share < 0.9) {
        fprintf(stderr, "controller: did not learn layer %d\n", best + 1);
        return 1;
    }
    return 0;
}
