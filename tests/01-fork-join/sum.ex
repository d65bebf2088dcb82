title="Parallel sum with spawn and join"
points=10
passes="func chaos sched pinned tsan asan"
book="1.3 Spawn and join"
deps=""
