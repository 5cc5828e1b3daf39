/* splitee.h -- the whole public API of libsplitee in one include.
 *
 * splitee decides, sample by sample and without labels, how many layers of a
 * multi-exit network run on a device before the sample exits there or its
 * activation is offloaded to a cloud server (SplitEE, Bajpai et al. 2023:
 * a UCB bandit over split layers). The modules, in the order data flows:
 *
 *   status.h  return codes and one-line error messages
 *   file.h    output files: checked before the work, written whole or not at all
 *   data.h    the data folder and its catalogue (shipped model, tables, labels)
 *   exit.h    the exit rule's confidence measures
 *   npy.h     NumPy .npy arrays
 *   exit.h    the exit rule: confidence measures and decisions
 *   table.h   exit-logit tables, confidences
 *   reward.h  the reward model (the contract every policy shares)
 *   bandit.h  policies: SplitEE, SplitEE-S, baselines, other bandits
 *   replay.h  benchmark policies on a table, with CIs and regret curves
 *   report.h  terminal table, JSON, CSV, curves, traces
 *   plot.h    figures via gnuplot
 *   model.h   the multi-exit model: architecture JSON + safetensors weights
 *   engine.h  layer-by-layer forward pass, exits, split and resume
 *   batch.h   many images through the engine on worker threads
 *   payload.h activation payloads for offloading (f32, f16, int8)
 *   image.h   Fashion-MNIST IDX files and seeded image distortions
 *   wire.h    the device <-> cloud wire protocol (framing, parser)
 *   cloud.h   the cloud server that finishes offloaded samples
 *   device.h  the device loop: policy, engine, offload, fallback
 *   link.h    link-cost simulator: latency, radio energy and o per offload
 *
 * A replay in a dozen lines (error handling shortened):
 *
 *     #include <splitee/splitee.h>
 *     splitee_error err;
 *     splitee_catalog *cat;         // the shipped data (data.h)
 *     splitee_catalog_load(NULL, &cat, &err);
 *     const splitee_shipped_table *clean = splitee_catalog_default_table(cat);
 *     splitee_table *t;
 *     splitee_table_load(clean->logits, clean->labels, SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &err);
 *     splitee_replay *rp;
 *     splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &err);
 *     splitee_setting set;          splitee_setting_default(&set);
 *     splitee_policy_config pol;    splitee_policy_config_default(&pol);
 *     splitee_replay_config cfg;    splitee_replay_config_default(&cfg);
 *     splitee_result *res;
 *     splitee_replay_run(rp, &set, 1, &pol, 1, &cfg, &res, &err);
 *     splitee_report_table(stdout, res, 1);
 *     splitee_results_free(res, 1);
 *     splitee_replay_free(rp);
 *     splitee_table_free(t);
 *     splitee_catalog_free(cat);
 *
 * Build against it with `pkg-config --cflags --libs splitee`.
 */
#ifndef SPLITEE_SPLITEE_H
#define SPLITEE_SPLITEE_H

#include "status.h"
#include "file.h"
#include "exit.h"
#include "npy.h"
#include "table.h"
#include "reward.h"
#include "bandit.h"
#include "replay.h"
#include "risk.h"
#include "search.h"
#include "report.h"
#include "plot.h"
#include "model.h"
#include "engine.h"
#include "batch.h"
#include "payload.h"
#include "image.h"
#include "wire.h"
#include "cloud.h"
#include "device.h"
#include "link.h"
#include "data.h"

#define SPLITEE_VERSION "0.1.0"

#endif
