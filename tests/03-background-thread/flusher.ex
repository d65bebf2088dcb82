title="Flush on demand: a request/acknowledge handshake"
points=15
passes="func chaos sched pinned tsan asan"
book="3.4 Flush on demand"
deps=""
