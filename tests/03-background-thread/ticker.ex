title="A ticker that stops promptly"
points=10
passes="func chaos sched pinned tsan asan"
book="3.3 Stopping promptly"
deps=""
