title="A parallel merge sort on join"
points=10
passes="func chaos sched pinned tsan asan"
book="8.8 A parallel sort on join"
deps="join deque"
