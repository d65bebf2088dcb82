title="A pipeline that stops cleanly on the first error"
points=15
passes="func chaos sched pinned tsan asan"
book="5.4 Stopping on an error"
deps="chan"
