title="A parallel reduction with padded per-thread partials"
points=10
passes="func chaos sched pinned tsan asan"
book="2.3 Reductions: a partial sum per thread"
deps=""
