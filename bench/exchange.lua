-- wrk script: POST /oauth2/token, exchanging each code of $BENCH_CODES once (its first
-- line is the app's "client_id secret", sent as $BENCH_BASIC); each of the 2 threads takes
-- every other code and stops when its share is used ("exhausted").
local all = {}
local first_line = true
for line in io.lines(os.getenv("BENCH_CODES")) do
  if first_line then
    first_line = false
  else
    all[#all + 1] = "grant_type=authorization_code&redirect_uri=https%3A%2F%2Fbench.example%2Fcb&code=" .. line
  end
end
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
}
local threads = {}
setup = function(thread)
  thread:set("first", #threads + 1)
  table.insert(threads, thread)
end
local next_code, step
init = function()
  next_code, step = first, 2
end
request = function()
  local body = all[next_code]
  if body == nil then
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  next_code = next_code + step
  return wrk.format("POST", "/oauth2/token", headers, body)
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors=%d\n", failed))
  for _, thread in ipairs(threads) do
    if thread:get("exhausted") == 1 then io.write("exhausted\n") end
  end
end
