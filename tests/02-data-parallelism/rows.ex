title="Dynamic scheduling: rows from an atomic counter"
points=15
passes="func chaos sched pinned tsan"
book="2.5 Dynamic scheduling: one row at a time"
deps=""
