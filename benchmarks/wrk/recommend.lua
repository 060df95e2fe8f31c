-- wrk script for `mtrec bench serving`: POST /recommend, one user per request.
--
-- Environment:
--   MTREC_WRK_USERS  file with one user id per line; requests cycle through it,
--                    each thread from its own offset
--   MTREC_WRK_K      k per request (default 10)
--   MTREC_WRK_RATE   requests per second per connection; unset: closed loop
--                    (each connection sends as soon as its last answer came)
--
-- Open loop (MTREC_WRK_RATE set) runs one connection per thread (wrk -t = -c), so
-- this thread's Lua state sees its connection's delay -> request -> response in
-- turn. Request n of a connection is due at start + n / rate; its latency is
-- counted from that intended start, not from when it was sent, so a slow answer
-- that delays the next request still counts against the next one too (no
-- coordinated omission). wrk's delay is in whole milliseconds, so a request may
-- go up to 1 ms early; its latency then counts from when it was sent. A request that got no answer (timeout, socket error)
-- is counted missing. `done` prints one JSON line, prefixed MTREC_WRK_JSON.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } mtrec_timespec;
  int clock_gettime(int clock_id, mtrec_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now_ts = ffi.new("mtrec_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_ts)
  return tonumber(now_ts.tv_sec) * 1000000 + tonumber(now_ts.tv_nsec) / 1000
end

local users = {}
for line in io.lines(os.getenv("MTREC_WRK_USERS")) do
  if #line > 0 then users[#users + 1] = line end
end
local k = tonumber(os.getenv("MTREC_WRK_K") or "10")
local rate = tonumber(os.getenv("MTREC_WRK_RATE") or "")

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("offset", thread_count * 7919)
  table.insert(threads, thread)
end

local position = 0
local headers = { ["Content-Type"] = "application/json" }

local sent_us = nil  -- when request() last ran: wrk calls it just before writing

function request()
  sent_us = now_us()
  position = position + 1
  local user = users[((offset or 0) + position) % #users + 1]
  return wrk.format("POST", "/recommend", headers,
                    string.format('{"users": ["%s"], "k": %d}', user, k))
end

if rate then
  local interval_us = 1000000 / rate
  local started_us = nil
  local sent = 0
  local intended_us = nil       -- intended start of the request in flight
  latencies = {}                -- read by done() through thread:get
  missing = 0

  function delay()
    local now = now_us()
    if started_us == nil then started_us = now end
    if intended_us ~= nil then missing = missing + 1 end  -- its answer never came
    intended_us = started_us + sent * interval_us
    sent = sent + 1
    local wait_ms = (intended_us - now) / 1000
    if wait_ms < 0 then return 0 end
    return math.floor(wait_ms)  -- wrk waits whole ms: up to 1 ms early, never late
  end

  function response(status, response_headers, body)
    if intended_us ~= nil then
      -- From the intended start when sent late (the wait counts against the
      -- server); from the send when wrk's whole-ms timer sent it early.
      latencies[#latencies + 1] = now_us() - math.min(intended_us, sent_us)
      intended_us = nil
    end
  end
end

function done(summary, latency, requests)
  local parts = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
                  summary.errors.connect, summary.errors.read, summary.errors.write,
                  summary.errors.status, summary.errors.timeout),
    string.format('"p50_us": %d, "p99_us": %d, "max_us": %d',
                  latency:percentile(50), latency:percentile(99), latency.max),
  }
  if rate then
    local all, lost = {}, 0
    for _, thread in ipairs(threads) do
      for _, value in ipairs(thread:get("latencies")) do all[#all + 1] = string.format("%.0f", value) end
      lost = lost + thread:get("missing")
    end
    parts[#parts + 1] = string.format('"missing": %d', lost)
    parts[#parts + 1] = '"intended_latencies_us": [' .. table.concat(all, ",") .. ']'
  end
  io.write("MTREC_WRK_JSON {" .. table.concat(parts, ", ") .. "}\n")
end
