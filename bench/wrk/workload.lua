-- One wrk script for every workload of scripts/bench; the workload is chosen by the first
-- script argument:
--   wrk ... -s bench/wrk/workload.lua URL -- MODE ACCOUNT_SID SEEDED [EXTRA]
-- MODE: fetch | fetch_xml | list | list_filter | deep | update | create | create_cb | ref_read |
--       ref_list | ref_insert
-- SEEDED: how many seeded caller IDs (sids PN + the row number, zero-padded) to pick from.
-- EXTRA: the PageToken for `deep`, the page number after it; a run tag for create numbers, and
--        for create_cb the StatusCallback URL after it.
-- Every request is different where the server would otherwise do less work: fetches pick a
-- random row, updates write a new FriendlyName each time, validation requests use a number
-- no request used before (so 21450 "already verified" does not dominate).
-- done() prints one line `RESULT {json}` with the figures scripts/bench tabulates.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local mode, base, seeded, extra
local counter = 0
-- Area codes per wrk thread for validation requests: numbers never collide across threads.
local area = { "415", "212", "303", "617", "312", "512", "702", "808" }

function init(args)
  mode = args[1]
  base = "/2010-04-01/Accounts/" .. (args[2] or "")
  seeded = tonumber(args[3] or "1000")
  extra = args[4] or ""
  math.randomseed(os.time() + (tid or 1) * 7919)
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

local function row()
  return string.format("PN%032d", math.random(1, seeded))
end

function request()
  counter = counter + 1
  if mode == "fetch" then
    return wrk.format("GET", base .. "/OutgoingCallerIds/" .. row() .. ".json")
  elseif mode == "fetch_xml" then
    return wrk.format("GET", base .. "/OutgoingCallerIds/" .. row())
  elseif mode == "list" then
    return wrk.format("GET", base .. "/OutgoingCallerIds.json?PageSize=50")
  elseif mode == "list_filter" then
    return wrk.format("GET", base .. "/OutgoingCallerIds.json?FriendlyName=Team+ten&PageSize=50")
  elseif mode == "deep" then
    return wrk.format("GET", base .. "/OutgoingCallerIds.json?PageSize=50&" .. extra)
  elseif mode == "update" then
    local body = string.format("FriendlyName=u%d-%d-%d", tid or 1, counter, math.random(1, 1000000))
    return wrk.format("POST", base .. "/OutgoingCallerIds/" .. row() .. ".json", nil, body)
  elseif mode == "create" or mode == "create_cb" then
    -- EXTRA is "TAG" or, for create_cb, "TAG CALLBACK_URL": the tag (a digit) keeps the
    -- numbers of one run apart from every other run's on the same database.
    local tag, callback = extra:match("^(%d?)%s*(.*)$")
    local first = (tonumber(tag) or 2) * 1000000
    local number = string.format("%%2B1%s%07d", area[((tid or 1) - 1) % #area + 1], first + counter)
    local body = "PhoneNumber=" .. number
    if mode == "create_cb" then
      body = body .. "&StatusCallback=" .. callback
    end
    return wrk.format("POST", base .. "/OutgoingCallerIds.json", nil, body)
  elseif mode == "ref_read" then
    return wrk.format("GET", "/row/" .. math.random(1, seeded))
  elseif mode == "ref_list" then
    return wrk.format("GET", "/rows?after=0")
  elseif mode == "ref_insert" then
    local body = string.format('{"name":"r%d-%d"}', tid or 1, counter)
    return wrk.format("POST", "/row", { ["Content-Type"] = "application/json" }, body)
  end
  error("unknown mode " .. tostring(mode))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
