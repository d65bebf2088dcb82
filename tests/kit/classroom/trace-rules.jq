# trace-rules.jq - the Chrome trace-event format's rules, as Chrome's bundled
# trace engine and Perfetto apply them, checked on a trace written by
# `timeline -j`: prints one line per broken rule (nothing when the trace is fine).
#   - every event has ph, ts, pid and tid; every event but metadata has a name;
#   - an E event names the B it closes (same name and cat, same pid and tid:
#     Chrome's engine throws on an E without a name) and every B is closed;
#   - a flow event (s, f) binds to a slice of the same pid, tid and cat that
#     starts at its own ts (an enclosing slice is not honoured there), and every
#     flow id has exactly one s and one f, the f not before the s.
.traceEvents as $ev
| def key: "\(.pid):\(.tid)";
  ([$ev[] | select((.ph | type) != "string" or (.ts | type) != "number"
                   or (.pid | type) != "number" or (.tid | type) != "number")
    | "event without ph, ts, pid or tid: \(tojson)"])
+ ([$ev[] | select(.ph != "M" and (.name | type) != "string") | "\(.ph) event without a name at ts \(.ts) tid \(.tid)"])
+ (reduce $ev[] as $e ({s: {}, err: []};
      ($e | key) as $k
      | if $e.ph == "B" then .s[$k] += [[$e.name, $e.cat]]
        elif $e.ph == "E" then
          (if (.s[$k] | length) == 0 then .err += ["E at ts \($e.ts) tid \($e.tid) closes no B"]
           elif .s[$k][-1] != [$e.name, $e.cat] then
             .err += ["E at ts \($e.ts) tid \($e.tid) is \([$e.name, $e.cat]), its B is \(.s[$k][-1])"]
           else . end)
          | .s[$k] |= (if length > 0 then .[:-1] else . end)
        else . end)
   | .err + [.s | to_entries[] | select(.value | length > 0) | "B never closed on \(.key): \(.value)"])
+ (([$ev[] | select(.ph == "X" or .ph == "B") | {key: "\(key):\(.cat):\(.ts)", value: true}] | from_entries) as $slices
   | [$ev[] | select(.ph == "s" or .ph == "f")
      | select($slices["\(key):\(.cat):\(.ts)"] != true)
      | "flow \(.ph) id \(.id) at ts \(.ts) tid \(.tid): no slice of cat \(.cat) starts there"])
+ ([$ev[] | select(.ph == "s" or .ph == "f")] | group_by(.id)
   | map(select((map(select(.ph == "s")) | length) != 1 or (map(select(.ph == "f")) | length) != 1
                or (map(select(.ph == "f") | .ts) | min) < (map(select(.ph == "s") | .ts) | min))
         | "flow id \(.[0].id): not one s and one f after it"))
| .[]
