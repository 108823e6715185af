-- replay.lua: wrk script that replays a pool of pre-signed raw requests
-- (written by bench/presign.py) round-robin on every connection, and
-- prints one machine-readable summary line at the end.
--   wrk -t2 -c64 -d10s -s bench/replay.lua URL -- POOL.lua
local pool, i = nil, 0

function init(args)
   pool = dofile(args[1])
   i = math.random(#pool) - 1
end

function request()
   i = i % #pool + 1
   return pool[i]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH {\"requests\":%d,\"duration_us\":%d,\"rps\":%.1f,\"connect\":%d,\"read\":%d," ..
      "\"write\":%d,\"status\":%d,\"timeout\":%d,\"p50_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
