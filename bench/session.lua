-- wrk script: GET $BENCH_PATH (default /api/v1/session) with one of the tokens in
-- $BENCH_TOKENS (a file, one per line), in turn. /healthz is driven through this same
-- script so that both sides of a ratio pay the same load-generator cost.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local path = os.getenv("BENCH_PATH") or "/api/v1/session"
local counter = 0
request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors=%d\n", failed))
end
