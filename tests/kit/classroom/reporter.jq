# reporter.jq - GitHub Classroom's grading reporter's arithmetic, as its source
# (classroom-resources/autograding-grading-reporter, src/ and dist/main.js) does
# it, on an array of {"runner": ID, "results": <the runner's result JSON>} in the
# order of its `runners:` input. Prints {table, table_max, points, points_max,
# errors}: the table's Total row (each runner scores passed tests / tests x
# max_score), the "Points X/Y" line (every test's score over the runners whose
# max_score is not 0), and what would break or garble its output.
def table_score: ([.results.tests[] | select(.status == "pass")] | length) as $p
  | (.results.tests | length) as $n
  | if $n == 0 then 0 else ($p / $n) * (.results.max_score // 0) end;
. as $rs
| { table: (reduce ($rs[] | table_score) as $x (0; . + $x)),
    table_max: (reduce ($rs[] | .results.max_score // 0) as $x (0; . + $x)),
    points: (reduce ($rs[] | select((.results.max_score // 0) != 0) | .results.tests[].score) as $x (0; . + $x)),
    points_max: (reduce ($rs[] | .results.max_score // 0 | select(. != 0)) as $x (0; . + $x)),
    errors: ([$rs[] | select((.results.tests | length) == 0) | "runner \(.runner) has no tests: the reporter divides 0 by 0"]
      + [$rs[] | select((.runner | length) > 18 or (.runner | test("^[a-zA-Z0-9]+$") | not))
         | "runner id \(.runner): not 1-18 letters and digits (the table cuts names, the reporter's check refuses others)"]
      + [$rs[] | select((.results.max_score | type) != "number") | "runner \(.runner) has no numeric max_score"]
      + [$rs[] | select([.results.status] | inside(["pass", "fail", "error"]) | not) | "runner \(.runner): bad status"]
      + [$rs[] | .runner as $r | .results.tests[]
         | select(.line_no != 0 or (.score | type) != "number" or (.name | type) != "string"
                  or ([.status] | inside(["pass", "fail", "error"]) | not))
         | "\($r): test \(.name | tostring) lacks line_no 0, a numeric score, a name or a status"]) }
