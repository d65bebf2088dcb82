title="A bounded channel with counted senders and receivers"
points=15
passes="func chaos sched pinned tsan asan"
book="5.2 The channel"
deps=""
