-- wrk script: POST /api/v1/login as one of the seeded users, in turn: $BENCH_PREFIX
-- (default bench-) followed by 0..$BENCH_USERS-1.
local users = tonumber(os.getenv("BENCH_USERS") or "50")
local prefix = os.getenv("BENCH_PREFIX") or "bench-"
local password = os.getenv("BENCH_PASSWORD")
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"username":"%s%d","password":"%s"}', prefix, counter % users, password)
  return wrk.format("POST", "/api/v1/login", { ["Content-Type"] = "application/json" }, body)
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors=%d\n", failed))
end
-- A refused sign-in is written out (the first three of each thread), so that a failed
-- run says what the server answered.
local shown = 0
response = function(status, headers, body)
  if status >= 300 and shown < 3 then
    shown = shown + 1
    io.write(string.format("answer %d: %s\n", status, body))
  end
end
