title="A worker pool: submit, wait, destroy, cancel"
points=15
passes="func chaos sched pinned tsan asan"
book="4.3 The pool"
deps=""
