/* link_internal.h -- the link simulator's private structures, shared by
 * sim/link.c (models) and sim/link_json.c (profile and trace parsing).
 * Not installed; the public interface is include/splitee/link.h. */
#ifndef SPLITEE_LINK_INTERNAL_H
#define SPLITEE_LINK_INTERNAL_H

#include <stddef.h>
#include "splitee/link.h"

struct splitee_link {
    splitee_link_params p;
    /* trace: piecewise-constant uplink rate, rate r[i] from t[i] to t[i+1]
     * (the last to `period`) */
    double *t;          /* (n) seconds, increasing, t[0] >= 0 */
    double *r;          /* (n) Mbit/s */
    size_t n;
    double period;      /* seconds: the loop length */
    double period_bits; /* bits the trace carries in one period */
};

struct splitee_radio {
    int idle;           /* 1: promotion needed before the next transfer */
    double end_s;       /* when the last transfer ended (tail start), s */
    double charged_s;   /* tail energy charged up to this time, s */
    int bad;            /* Gilbert-Elliott state after the last packet */
    int have_rtt;       /* RFC 6298: an RTT sample has been taken */
    double srtt, rttvar;/* ms */
};

#endif
