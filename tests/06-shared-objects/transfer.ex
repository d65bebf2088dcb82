title="Deadlock-free transfers between accounts with a lock each"
points=15
passes="func chaos sched pinned tsan"
book="6.2 Two locks, one order"
deps=""
