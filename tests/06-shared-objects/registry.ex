title="A registry with many readers and rare writers"
points=15
passes="func chaos sched pinned tsan"
book="6.3 Many readers, one writer"
deps=""
