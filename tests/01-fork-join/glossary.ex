title="Sharing an immutable glossary by atomic reference counting"
points=10
passes="func chaos sched pinned tsan asan"
book="1.6 Sharing immutable data: atomic reference counting"
deps=""
