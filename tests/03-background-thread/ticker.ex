title="A ticker that stops promptly"
points=10
passes="func chaos pinned tsan"
book="3.3 Stopping promptly"
deps=""
