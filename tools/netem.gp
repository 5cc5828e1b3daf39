# netem.gp -- draws tools/netem.sh's CSV: measured offload latency against
# the simulator's prediction, per split layer and profile.
#   gnuplot -e "csv='docs/img/netem-rate.csv'; out='docs/img/netem-rate.png'" tools/netem.gp
# Left: measured against predicted (both models, every layer; the diagonal
# is perfect agreement, the grey lines the tolerance, 0.5 ms + 5 %).
# Right: measured minus predicted, per layer. The "adjusted" prediction is
# used (equal to the simulator's own in netem mode; in rate mode less the
# token bucket's burst, docs/LINKS.md).
if (!exists("csv")) csv = 'docs/img/netem-rate.csv'
if (!exists("out")) out = 'docs/img/netem-rate.png'
if (!exists("tol_ms")) tol_ms = 0.5
if (!exists("tol_rel")) tol_rel = 0.05
set terminal pngcairo noenhanced background rgb 'white' font 'sans,10' size 1100,440
set output out
set datafile separator ','
set datafile commentschars '#'
set key top left box opaque font ',9'
set grid lc rgb '#dddddd'
set multiplot layout 1,2

profiles = "3g lte wifi"
colour(p) = p eq "3g" ? '#c0392b' : (p eq "lte" ? '#2c6fbb' : '#2e8b57')
label(p) = p eq "3g" ? '3G (1.1 Mbit/s)' : (p eq "lte" ? 'LTE (5.85 / 13 Mbit/s)' : 'Wi-Fi (18.88 Mbit/s)')
sel(p, m, col) = (strcol(2) eq p && strcol(3) eq m) ? column(col) : 1/0

mode = system("awk -F, 'NR == 2 { print $1 }' ".csv)
set title 'measured against predicted offload latency'.(mode eq 'rate' ? ' (rates only: tbf, no sch_netem)' : ' (netem)')
set logscale xy
set xrange [0.02:40]
set yrange [0.02:40]
set xlabel 'predicted (ms)'
set ylabel 'measured (ms): rtt - cloud compute - plain-veth baseline'
plot x lc rgb '#444444' dt 1 notitle, \
     x + tol_ms + tol_rel * x lc rgb '#aaaaaa' dt 2 title 'tolerance 0.5 ms + 5 %', \
     (x - tol_ms - tol_rel * x > 0 ? x - tol_ms - tol_rel * x : 1/0) lc rgb '#aaaaaa' dt 2 notitle, \
     for [p in profiles] csv skip 1 using (sel(p, "vit", 7)):(sel(p, "vit", 8)) with points pt 7 ps 1.1 lc rgb colour(p) title label(p).' ViT', \
     for [p in profiles] csv skip 1 using (sel(p, "cnn28", 7)):(sel(p, "cnn28", 8)) with points pt 5 ps 1.3 lc rgb colour(p) title label(p).' CNN'

unset logscale
set title 'measured - predicted, per split layer'
set xrange [0.5:11.5]
set yrange [-0.6:0.6]
set xtics 1
set xlabel 'split layer (ViT: 1-11; CNN: 1-2)'
set ylabel 'error (ms)'
set key bottom right box opaque font ',9'
plot 0 lc rgb '#444444' notitle, \
     tol_ms lc rgb '#aaaaaa' dt 2 title 'tolerance floor +-0.5 ms', -tol_ms lc rgb '#aaaaaa' dt 2 notitle, \
     for [p in profiles] csv skip 1 using (sel(p, "vit", 4)):(sel(p, "vit", 11)) with linespoints pt 7 lc rgb colour(p) title label(p).' ViT', \
     for [p in profiles] csv skip 1 using (sel(p, "cnn28", 4)):(sel(p, "cnn28", 11)) with points pt 5 ps 1.3 lc rgb colour(p) title label(p).' CNN'
unset multiplot
