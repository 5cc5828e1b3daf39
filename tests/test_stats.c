/* test_stats.c -- means and 95% confidence intervals against a naive
 * long-double reference and textbook t quantiles. */
#include <criterion/criterion.h>
#include <math.h>

#include "core/stats.h"

Test(stats, t_quantiles_match_tables)
{
    /* two-sided 95% Student-t critical values from standard tables */
    cr_assert_float_eq(splitee__t975(1), 12.7062, 1e-4);
    cr_assert_float_eq(splitee__t975(4), 2.7764, 1e-4);
    cr_assert_float_eq(splitee__t975(19), 2.0930, 1e-4);
    cr_assert_float_eq(splitee__t975(1000), 1.9623, 1e-4);
}

Test(stats, mean_and_ci_match_naive_reference)
{
    double x[20];
    long double s = 0, ss = 0;
    for (int i = 0; i < 20; i++) {
        x[i] = sin(i * 1.7) * 3 + 10;
        s += x[i];
    }
    long double m = s / 20;
    for (int i = 0; i < 20; i++)
        ss += (x[i] - m) * (x[i] - m);
    double sd = (double)sqrtl(ss / 19);
    splitee_stat st = splitee__stat(x, 20, 1);
    cr_assert_float_eq(st.mean, (double)m, 1e-12);
    cr_assert_float_eq(st.sd, sd, 1e-12);
    cr_assert_float_eq(st.hi - st.mean, 2.0930240544 * sd / sqrt(20.0), 1e-9);
    cr_assert_float_eq(st.mean - st.lo, st.hi - st.mean, 1e-12);
}

Test(stats, stride_picks_every_kth_value)
{
    double x[6] = { 1, 100, 3, 100, 5, 100 };
    splitee_stat st = splitee__stat(x, 3, 2);
    cr_assert_float_eq(st.mean, 3.0, 1e-15);
    cr_assert_float_eq(st.sd, 2.0, 1e-15);
}

Test(stats, single_value_has_no_interval_and_empty_is_nan)
{
    double x = 4.5;
    splitee_stat st = splitee__stat(&x, 1, 1);
    cr_assert_eq(st.mean, 4.5);
    cr_assert_eq(st.lo, 4.5);
    cr_assert_eq(st.hi, 4.5);
    cr_assert_eq(st.sd, 0);
    cr_assert(isnan(splitee__stat(&x, 0, 1).mean));
}

Test(stats, constant_values_have_zero_width)
{
    double x[5] = { 2, 2, 2, 2, 2 };
    splitee_stat st = splitee__stat(x, 5, 1);
    cr_assert_eq(st.lo, 2);
    cr_assert_eq(st.hi, 2);
}

Test(stats, mix64_spreads_neighbouring_seeds)
{
    cr_assert_neq(splitee__mix64(1), splitee__mix64(2));
    /* splitmix64 of state 0 after one increment: known first output */
    cr_assert_eq(splitee__mix64(0), 0xE220A8397B1DCDAFULL);
}
