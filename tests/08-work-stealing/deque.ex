title="A Chase-Lev work-stealing deque"
points=15
passes="func chaos pinned tsan asan"
book="8.2 The deque: one owner, many thieves"
deps=""
