title="A single-producer single-consumer ring buffer"
points=15
passes="func chaos pinned tsan"
book="7.4 A ring buffer: publishing with release"
deps=""
