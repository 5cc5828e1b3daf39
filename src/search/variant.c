/* variant.c -- a model variant holding only a configuration's kept exits
 * (search.h, splitee_search_variant). The model format puts one exit after
 * every stage, so the stages between two kept exits are merged into one:
 * their op lists concatenated, the names they save renamed apart, and a
 * merged stage's "input" (what a residual add of a later stage reads) made
 * a saved name of the previous stage's last op. A version 1 model (the
 * ViT) is first translated to its version 2 graph by the engine, the graph
 * the loader runs for it. The weights file holds only the tensors the
 * variant reads (the loader refuses unread ones), copied byte for byte.
 * The result is checked by loading it before it is returned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "core/internal.h"
#include "engine/model_internal.h"
#include "formats/safetensors.h"
#include "splitee/search.h"

#define MAX_MODEL_JSON (64u << 20)

/* Renames every "save" and "from" of the ops in list (not "from": "input"
 * when keep_input) with prefix; "from": "input" becomes `input_name` when
 * that is not NULL. 0, or -1 out of memory. */
static int rename_ops(cJSON *list, const char *prefix, const char *input_name)
{
    char buf[256];
    cJSON *op;
    cJSON_ArrayForEach(op, list) {
        cJSON *sv = cJSON_GetObjectItemCaseSensitive(op, "save");
        if (cJSON_IsString(sv)) {
            snprintf(buf, sizeof buf, "%s%s", prefix, sv->valuestring);
            if (!cJSON_SetValuestring(sv, buf))
                return -1;
        }
        cJSON *fr = cJSON_GetObjectItemCaseSensitive(op, "from");
        if (cJSON_IsString(fr)) {
            if (strcmp(fr->valuestring, "input") == 0) {
                if (input_name && !cJSON_SetValuestring(fr, input_name))
                    return -1;
            } else {
                snprintf(buf, sizeof buf, "%s%s", prefix, fr->valuestring);
                if (!cJSON_SetValuestring(fr, buf))
                    return -1;
            }
        }
    }
    return 0;
}

int splitee_search_variant(const char *model_dir, const splitee_search_plan *p, char **out, void **weights_out,
                           size_t *weights_len, splitee_error *err)
{
    *out = NULL;
    *weights_out = NULL;
    *weights_len = 0;
    const char *weights_name = "model.safetensors";
    char path[4096];
    snprintf(path, sizeof path, "%s/model.json", model_dir);
    char *text = NULL, *v2text = NULL;
    size_t len = 0;
    int st = splitee__read_file(path, MAX_MODEL_JSON, &text, &len, err);
    if (st < 0)
        return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (root && cJSON_IsObject(root)) {
        cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
        if (cJSON_IsNumber(ver) && ver->valuedouble == 1) {
            cJSON_Delete(root);
            root = NULL;
            if ((st = splitee__model_v1_to_v2(path, text, len, &v2text, err)) < 0) {
                free(text);
                return st;
            }
            root = cJSON_Parse(v2text);
        }
    }
    free(text);
    free(v2text);
    cJSON *stages = root ? cJSON_GetObjectItemCaseSensitive(root, "stages") : NULL;
    if (!cJSON_IsArray(stages)) {
        cJSON_Delete(root);
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: no \"stages\" list (not a splitee model?)", path);
    }
    int L = cJSON_GetArraySize(stages);
    if (L != p->candidates) {
        cJSON_Delete(root);
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %d stages, but the configuration is over %d candidates",
                             path, L, p->candidates);
    }
    if (L < 1 || L > SPLITEE_MAX_EXITS || (p->keep >> (L - 1)) != 0) {
        cJSON_Delete(root);
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: the configuration keeps an exit the model lacks", path);
    }
    cJSON *merged = cJSON_CreateArray();
    cJSON *group = NULL;        /* the stage being built */
    cJSON *gops = NULL;         /* its ops */
    char gname[1024] = "";
    int nomem = !merged;
    char prefix[64], inname[96];
    for (int s = 0; s < L && !nomem; s++) {
        cJSON *stage = cJSON_GetArrayItem(stages, s);
        cJSON *ops = cJSON_GetObjectItemCaseSensitive(stage, "ops");
        cJSON *ex = cJSON_GetObjectItemCaseSensitive(stage, "exit");
        cJSON *nm = cJSON_GetObjectItemCaseSensitive(stage, "name");
        if (!cJSON_IsArray(ops) || cJSON_GetArraySize(ops) < 1 || !cJSON_IsArray(ex)) {
            nomem = -1;
            break;
        }
        char sname[64];
        snprintf(sname, sizeof sname, "%d", s + 1);
        const char *this_name = cJSON_IsString(nm) ? nm->valuestring : sname;
        cJSON *copy = cJSON_Duplicate(ops, 1);
        if (!copy) {
            nomem = 1;
            break;
        }
        if (!group) {
            group = cJSON_CreateObject();
            gops = copy;
            snprintf(gname, sizeof gname, "%s", this_name);
            if (!group) {
                cJSON_Delete(copy);
                nomem = 1;
                break;
            }
        } else {
            /* the previous stage's last op must be saved so that this
             * stage's "input" can name it */
            cJSON *last = cJSON_GetArrayItem(gops, cJSON_GetArraySize(gops) - 1);
            cJSON *sv = cJSON_GetObjectItemCaseSensitive(last, "save");
            if (cJSON_IsString(sv)) {
                snprintf(inname, sizeof inname, "%s", sv->valuestring);
            } else {
                snprintf(inname, sizeof inname, "s%d_out", s);
                if (!cJSON_AddStringToObject(last, "save", inname))
                    nomem = 1;
            }
            snprintf(prefix, sizeof prefix, "s%d_", s + 1);
            if (!nomem && rename_ops(copy, prefix, inname) < 0)
                nomem = 1;
            cJSON *op;
            while (!nomem && (op = cJSON_DetachItemFromArray(copy, 0)))
                cJSON_AddItemToArray(gops, op);
            cJSON_Delete(copy);
            size_t gl = strlen(gname);
            snprintf(gname + gl, sizeof gname - gl, "+%s", this_name);
        }
        int kept = s == L - 1 || (p->keep >> s & 1);
        if (kept && !nomem) {
            cJSON *exc = cJSON_Duplicate(ex, 1);
            if (!exc || !cJSON_AddStringToObject(group, "name", gname)) {
                cJSON_Delete(exc);
                nomem = 1;
                break;
            }
            cJSON_AddItemToObject(group, "ops", gops);
            cJSON_AddItemToObject(group, "exit", exc);
            cJSON_AddItemToArray(merged, group);
            group = NULL;
            gops = NULL;
        }
    }
    if (group) {
        cJSON_Delete(gops);
        cJSON_Delete(group);
    }
    if (nomem < 0) {
        cJSON_Delete(merged);
        cJSON_Delete(root);
        return splitee__fail(err, SPLITEE_ERR_FORMAT, nomem == -1 ? "%s: a stage without \"ops\" or \"exit\" lists"
                                                                  : "%s: no \"weights\" file named", path);
    }
    char wpath[4096] = "";
    cJSON *wold = cJSON_GetObjectItemCaseSensitive(root, "weights");
    if (cJSON_IsString(wold))
        snprintf(wpath, sizeof wpath, "%s/%s", model_dir, wold->valuestring);
    else if (!nomem)
        nomem = -2;
    if (!nomem) {
        cJSON_ReplaceItemInObjectCaseSensitive(root, "stages", merged);
        merged = NULL;
        cJSON *w = cJSON_CreateString(weights_name);
        if (!w)
            nomem = 1;
        else if (cJSON_GetObjectItemCaseSensitive(root, "weights"))
            cJSON_ReplaceItemInObjectCaseSensitive(root, "weights", w);
        else
            cJSON_AddItemToObject(root, "weights", w);
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
        if (!nomem && !meta && !(meta = cJSON_AddObjectToObject(root, "metadata")))
            nomem = 1;
        if (!nomem && cJSON_IsObject(meta)) {
            char keep[SPLITEE_MAX_EXITS * 4 + 1] = "";
            size_t o = 0;
            for (int j = 0; j < L; j++)
                if (j == L - 1 || (p->keep >> j & 1))
                    o += (size_t)snprintf(keep + o, sizeof keep - o, "%s%d", o ? "," : "", j + 1);
            cJSON_DeleteItemFromObjectCaseSensitive(meta, "variant_exits");
            if (!cJSON_AddStringToObject(meta, "variant_exits", keep))
                nomem = 1;
        }
    }
    cJSON_Delete(merged);
    /* the parameter names the variant reads */
    const char **params = NULL;
    size_t nparams = 0, cap = 0;
    cJSON *stg = cJSON_GetObjectItemCaseSensitive(root, "stages"), *sg;
    cJSON_ArrayForEach(sg, stg) {
        for (int part = 0; part < 2 && !nomem; part++) {
            cJSON *list = cJSON_GetObjectItemCaseSensitive(sg, part ? "exit" : "ops"), *op;
            cJSON_ArrayForEach(op, list) {
                cJSON *pr = cJSON_GetObjectItemCaseSensitive(op, "param");
                if (!cJSON_IsString(pr))
                    continue;
                if (nparams == cap) {
                    cap = cap ? 2 * cap : 64;
                    const char **np = realloc(params, cap * sizeof *np);
                    if (!np) {
                        nomem = 1;
                        break;
                    }
                    params = np;
                }
                params[nparams++] = pr->valuestring;
            }
        }
    }
    char *res = nomem ? NULL : cJSON_Print(root);
    if (!res) {
        free(params);
        cJSON_Delete(root);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory for the variant", path);
    }
    /* the weights the variant reads, in the original order */
    splitee__safetensors sf;
    if ((st = splitee__safetensors_open(wpath, &sf, err)) < 0) {
        free(params);
        free(res);
        cJSON_Delete(root);
        return st;
    }
    cJSON *hdr = cJSON_CreateObject(), *meta2 = hdr ? cJSON_AddObjectToObject(hdr, "__metadata__") : NULL;
    nomem = !meta2 || !cJSON_AddStringToObject(meta2, "variant_of", wpath);
    size_t data_len = 0;
    unsigned char *keepmask = calloc(sf.count ? sf.count : 1, 1);
    nomem |= !keepmask;
    for (size_t i = 0; i < sf.count && !nomem; i++) {
        const splitee__st_tensor *tn = &sf.tensors[i];
        for (size_t q = 0; q < nparams && !keepmask[i]; q++) {
            size_t pl = strlen(params[q]);
            if (strcmp(tn->name, params[q]) == 0 || (strncmp(tn->name, params[q], pl) == 0 && tn->name[pl] == '.'))
                keepmask[i] = 1;
        }
        if (!keepmask[i])
            continue;
        cJSON *e = cJSON_AddObjectToObject(hdr, tn->name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        if (!offs || !cJSON_AddStringToObject(e, "dtype", tn->dtype)) {
            nomem = 1;
            break;
        }
        for (int d = 0; d < tn->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)tn->shape[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)data_len));
        data_len += tn->end - tn->begin;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)data_len));
    }
    char *htext = nomem ? NULL : cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    unsigned char *wb = NULL;
    size_t hl = htext ? strlen(htext) : 0, hpad = (hl + 7) / 8 * 8, total = 8 + hpad + data_len;
    if (htext && (wb = malloc(total))) {
        for (int b = 0; b < 8; b++)
            wb[b] = (unsigned char)((uint64_t)hpad >> (8 * b));
        memcpy(wb + 8, htext, hl);
        memset(wb + 8 + hl, ' ', hpad - hl);
        size_t at = 8 + hpad;
        for (size_t i = 0; i < sf.count; i++)
            if (keepmask[i]) {
                memcpy(wb + at, sf.tensors[i].data, sf.tensors[i].end - sf.tensors[i].begin);
                at += sf.tensors[i].end - sf.tensors[i].begin;
            }
    }
    free(htext);
    free(keepmask);
    free(params);
    splitee__safetensors_close(&sf);
    cJSON_Delete(root);
    if (!wb) {
        free(res);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory for the variant", path);
    }
    /* the variant must load */
    splitee_model *m = NULL;
    splitee_error e2 = { 0, "" };
    st = splitee__model_load_mem("variant model.json", res, strlen(res), weights_name, wb, total, &m, &e2);
    if (st < 0) {
        free(res);
        free(wb);
        return splitee__fail(err, st, "%s: the variant does not load: %s", path, e2.msg);
    }
    splitee_model_free(m);
    *out = res;
    *weights_out = wb;
    *weights_len = total;
    return 0;
}
