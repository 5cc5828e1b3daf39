/* replay.c -- benchmark SplitEE on a table splitee ships, found wherever
 * splitee is installed.
 *
 * The data folder (the shipped model, exit-logit tables and link profiles)
 * is $SPLITEE_DATA when set, else PREFIX/share/splitee of the installed
 * library (data.h). Its catalogue says which table is the default and
 * which labels go with it, so this program names no file: it loads the
 * catalogue, replays the default table (or the domain given) with SplitEE-S
 * and the whole-network-on-the-device baseline, and prints the comparison.
 *
 *     replay [DOMAIN]     DOMAIN: clean, noise, blur or contrast (the
 *                         catalogue's names); default: the catalogue's
 *
 * Exits with status 1, and a one-line message, when the data folder, the
 * catalogue or the table cannot be read, or the replay fails.
 *
 * Build it as any program that uses an installed libsplitee:
 *     cc replay.c $(pkg-config --cflags --libs splitee) -o replay
 */
#include <stdio.h>

#include <splitee/splitee.h>

int main(int argc, char **argv)
{
    splitee_error err;
    splitee_catalog *cat = NULL;
    splitee_table *table = NULL;
    splitee_replay *rp = NULL;
    splitee_result *res = NULL;
    int status = 1;

    /* NULL: the data folder splitee_data_dir() finds. */
    if (splitee_catalog_load(NULL, &cat, &err) < 0)
        goto fail;
    printf("data folder: %s\n", splitee_catalog_dir(cat));

    const splitee_shipped_table *shipped = splitee_catalog_default_table(cat);
    if (argc > 1 && splitee_catalog_table(cat, argv[1], &shipped, &err) < 0)
        goto fail;
    printf("table: %s (%s), labels %s\n", shipped->logits, shipped->description, shipped->labels);

    if (splitee_table_load_npy(shipped->logits, shipped->labels, SPLITEE_LAYOUT_SAMPLES_FIRST, &table,
                               &err) < 0)
        goto fail;
    /* The replay keeps each sample's confidences and correctness; the
     * table itself is no longer needed afterwards. */
    if (splitee_replay_prepare(table, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &err) < 0)
        goto fail;

    splitee_setting set;          /* alpha 0.8, lambda 0.1, mu 1, o 0.3 */
    splitee_setting_default(&set);
    splitee_policy_config pol[2];
    splitee_policy_config_default(&pol[0]);
    pol[0].kind = SPLITEE_POLICY_KIND_SPLITEE_S;
    splitee_policy_config_default(&pol[1]);
    pol[1].kind = SPLITEE_POLICY_KIND_FINAL;
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 3;           /* three shuffled passes, seed 1 */
    rc.curves = 0;                /* summary figures only */
    if (splitee_replay_run(rp, &set, 1, pol, 2, &rc, &res, &err) < 0)
        goto fail;

    if (splitee_report_table(stdout, res, 1) < 0) {
        fprintf(stderr, "replay: cannot write the report\n");
        goto done;
    }
    const splitee_policy_result *s = &res->policies[0];
    printf("splitee-s learned layer %d (best fixed layer %d); cost %.3f vs %.3f for the whole "
           "network on the device\n",
           s->learned_arm + 1, res->best_arm + 1, s->cost.mean, res->policies[1].cost.mean);
    status = 0;
    goto done;

fail:
    fprintf(stderr, "replay: %s\n", err.msg);
done:
    splitee_results_free(res, 1);
    splitee_replay_free(rp);
    splitee_table_free(table);
    splitee_catalog_free(cat);
    return status;
}
