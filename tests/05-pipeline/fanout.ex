title="Fan-out and fan-in around a slow stage"
points=10
passes="func chaos sched pinned tsan asan"
book="5.3 Fan-out and fan-in"
deps="chan"
