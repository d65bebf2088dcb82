title="A janitor thread that evicts expired cache entries"
points=15
passes="func chaos sched pinned tsan asan"
book="3.5 Sharing data with the background thread"
deps=""
