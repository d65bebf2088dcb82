title="Results and errors through pthread_join"
points=10
passes="func chaos sched pinned tsan asan"
book="1.5 Errors across threads"
deps=""
