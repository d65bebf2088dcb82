title="A bounded blocking task queue"
points=10
passes="func chaos sched pinned tsan asan"
book="4.2 The task queue"
deps=""
