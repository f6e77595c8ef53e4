-- wrk script for `make soak`: cycles through the requests listed in a file, one per line,
-- tab-separated: METHOD, PATH, bearer TOKEN, optional BODY (JSON). Each wrk thread starts at a
-- different line. done() prints one machine-readable line for scripts/soak.sh:
--   SOAK <name> <requests> <req/s> <p50 ms> <p90 ms> <p99 ms> <max ms> <non-2xx/3xx> <socket errors>
--   wrk ... -s scripts/soak/requests.lua URL -- NAME FILE
local reqs, i = {}, 0
local name = "requests"
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  name = args[1] or name
  local f = assert(io.open(args[2], "r"))
  for line in f:lines() do
    local method, path, token, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t?(.*)$")
    if method then
      local headers = { ["Authorization"] = "Bearer " .. token }
      if body == "" then body = nil else headers["Content-Type"] = "application/json" end
      reqs[#reqs + 1] = wrk.format(method, path, headers, body)
    end
  end
  f:close()
  assert(#reqs > 0, "no requests in " .. args[2])
  i = (id or 0) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  local ms = function(us) return string.format("%.2f", us / 1000) end
  io.write(string.format("SOAK %s %d %.1f %s %s %s %s %d %d\n", name, summary.requests,
    summary.requests / (summary.duration / 1e6), ms(latency:percentile(50)), ms(latency:percentile(90)),
    ms(latency:percentile(99)), ms(latency.max), e.status, e.connect + e.read + e.write + e.timeout))
end
