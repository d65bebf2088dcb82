title="join: a work-stealing runtime that helps while it waits"
points=20
passes="func chaos sched pinned tsan"
book="8.3 join: push b, run a, pop b or help"
deps="deque"
