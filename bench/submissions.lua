-- wrk script of bench/submission_bench.py: each connection (one per wrk thread) posts the
-- checkout forms prepared for it, each once, and writes what came back to a file.
--
--   wrk --threads N --connections N --script bench/submissions.lua URL -- DIR USER_AGENT
--
-- DIR holds submissions-<i>.txt for thread i (lines "cookie TAB form body"); the thread writes
-- results-<i>.txt (lines "outcome TAB sent TAB answered", monotonic seconds) after its last
-- answer. The outcome is "submitted" (302 to the order), "refused" (400, not enough budget) or
-- the status and Location of anything else.
--
-- A thread that is done asks for GET /health until the benchmark stops wrk, rather than stopping:
-- wrk opens its next connection before it stops, and an idle connection holds a sync worker
-- until gunicorn's timeout.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC, as Python's time.monotonic
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local threads, threads_made = 0, {}
function setup(thread)
  thread:set("number", threads)
  threads = threads + 1
  table.insert(threads_made, thread)
end

local REFUSALS = { "Not enough budget left on", "Sisa anggaran pada" }
local dir, agent
local items, results = {}, {}
local sent_at = 0
tail = 0 -- /health answers after the last form (read by done())

function init(args)
  dir, agent = args[1], args[2]
  local file = assert(io.open(dir .. "/submissions-" .. number .. ".txt"))
  for line in file:lines() do
    local cookie, body = line:match("^([^\t]*)\t(.*)$")
    items[#items + 1] = { cookie, body }
  end
  file:close()
end

-- The next form is the one after the last answer: wrk calls request() once more than it sends
-- (on thread 0, to check the script), and one connection has one request out at a time.
function request()
  local item = items[#results + 1]
  if item == nil then
    return wrk.format("GET", "/health", { ["User-Agent"] = agent })
  end
  sent_at = now()
  return wrk.format("POST", "/cart", {
    ["Cookie"] = item[1],
    ["User-Agent"] = agent,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, item[2])
end

local function outcome(status, headers, body)
  local location = headers["Location"] or ""
  if status == 302 and location:match("/orders/%d+$") then
    return "submitted"
  end
  if status == 400 then
    for _, text in ipairs(REFUSALS) do
      if body:find(text, 1, true) then
        return "refused"
      end
    end
  end
  return status .. " " .. location
end

function response(status, headers, body)
  if #results == #items then
    tail = tail + 1
    return
  end
  local answered = now()
  results[#results + 1] = string.format("%s\t%.6f\t%.6f", outcome(status, headers, body),
    sent_at, answered)
  if #results == #items then
    local file = assert(io.open(dir .. "/results-" .. number .. ".txt", "w"))
    file:write(table.concat(results, "\n"), "\n")
    file:close()
  end
end

-- How many /health requests the finished connections made while the others still posted:
-- their CPU is in the run's figures too.
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads_made) do
    total = total + (thread:get("tail") or 0)
  end
  io.write(string.format("HEALTH_TAIL %d\n", total))
end
