title="Futures: results and errors back from the pool"
points=10
passes="func chaos sched pinned tsan asan"
book="4.5 Futures: results and errors"
deps="pool"
