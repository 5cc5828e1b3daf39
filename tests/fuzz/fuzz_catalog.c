/* fuzz_catalog.c -- libFuzzer target: the data folder's catalogue
 * (src/formats/data.c, splitee_catalog_load), through a scratch folder
 * holding the input as catalog.json.
 *
 * Input: the catalog.json bytes (seeds: tests/fuzz/seeds.py, from the
 * shipped data/catalog.json). A refusal must be one line naming the file;
 * a catalogue that loads must answer every query coherently (every table
 * found by its own domain, the domains list naming each). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "splitee/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[300], path[340];
    snprintf(dir, sizeof dir, "%s", fz_write(0, "", 0));
    dirname(dir);
    snprintf(path, sizeof path, "%s/catalog.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    splitee_catalog *c = (splitee_catalog *)1;
    splitee_error err = { 0, "" };
    int rc = splitee_catalog_load(dir, &c, &err);
    if (rc < 0) {
        if (c)
            abort();
        fz_check_refusal(rc, &err, "catalog.json");
        return 0;
    }
    int n = splitee_catalog_count(c);
    if (n < 1 || n > SPLITEE_CATALOG_MAX || !splitee_catalog_default_table(c))
        abort();
    for (int i = 0; i < n; i++) {
        const splitee_shipped_table *t = splitee_catalog_at(c, i), *u = NULL;
        if (!t || splitee_catalog_table(c, t->domain, &u, NULL) < 0 || u != t ||
            !strstr(splitee_catalog_domains(c), t->domain))
            abort();
    }
    const char *im, *lb;
    (void)splitee_catalog_test_set(c, &im, &lb, NULL);
    (void)splitee_catalog_table_of_file(c, path);
    splitee_catalog_free(c);
    return 0;
}
