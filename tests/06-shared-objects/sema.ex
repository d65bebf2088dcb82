title="A counting semaphore built from a mutex and a condition variable"
points=10
passes="func chaos sched pinned tsan"
book="6.4 A monitor: mutex plus condition variable"
deps=""
