title="A parallel for: an index range in n chunks"
points=10
passes="func chaos sched pinned tsan"
book="2.2 Static scheduling: a parallel for"
deps=""
