-- wrk script: POST /api/v1/login/verify once for each "challenge code" line of
-- $BENCH_PAIRS; each of the 2 threads takes every other pair and stops when its share is
-- used, and the summary then says "exhausted" (the rate would be too low: wrk divides by
-- the whole duration).
local all = {}
for line in io.lines(os.getenv("BENCH_PAIRS")) do
  local challenge, code = line:match("^(%S+) (%S+)$")
  all[#all + 1] = string.format('{"challenge":"%s","code":"%s"}', challenge, code)
end
local threads = {}
setup = function(thread)
  thread:set("first", #threads + 1)
  table.insert(threads, thread)
end
local next_pair, step
init = function()
  next_pair, step = first, 2
end
request = function()
  local body = all[next_pair]
  if body == nil then
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  next_pair = next_pair + step
  return wrk.format("POST", "/api/v1/login/verify", { ["Content-Type"] = "application/json" }, body)
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors=%d\n", failed))
  for _, thread in ipairs(threads) do
    if thread:get("exhausted") == 1 then io.write("exhausted\n") end
  end
end
