-- wrk script: POST /oauth2/introspect for the access tokens of $BENCH_TOKENS in turn, as
-- the app of $BENCH_BASIC (a resource server checking the tokens it is shown). Whether
-- they are active is checked once before the run, not here: reading every answer in Lua
-- would slow the load generator and tilt the ratio.
local bodies = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  bodies[#bodies + 1] = "token=" .. line
end
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/oauth2/introspect", headers, bodies[i])
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors=%d\n", failed))
end
