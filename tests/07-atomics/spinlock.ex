title="A test-and-test-and-set spinlock with acquire/release and backoff"
points=10
passes="func chaos pinned tsan"
book="7.3 A spinlock: acquire and release"
deps=""
