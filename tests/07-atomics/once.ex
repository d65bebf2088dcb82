title="One-time lazy initialisation with compare-and-swap"
points=10
passes="func chaos sched pinned tsan"
book="7.5 Once: electing one initialiser with compare-and-swap"
deps=""
