-- wrk script: POST /api/v1/login as one of the seeded users, in turn.
local users = tonumber(os.getenv("BENCH_USERS") or "50")
local password = os.getenv("BENCH_PASSWORD")
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"username":"bench-%d","password":"%s"}', counter % users, password)
  return wrk.format("POST", "/api/v1/login", { ["Content-Type"] = "application/json" }, body)
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors=%d\n", failed))
end
