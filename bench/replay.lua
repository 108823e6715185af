-- replay.lua: wrk script that replays a pool of pre-signed raw requests
-- (written by bench/presign.py) round-robin on every connection, and
-- prints one machine-readable summary line at the end.
--   [BENCH_QUANT=1] wrk -t2 -c64 -d10s -s bench/replay.lua URL -- POOL.lua
-- With BENCH_QUANT=1 in the environment (bench/scale, which runs one wrk per node and merges their
-- latencies) it also prints one QUANT line of 1000 quantiles (0.05 %,
-- 0.15 %, ... 99.95 %) in microseconds; each stands for 1/1000 of this
-- process's requests, so several processes' lines merge by weighting them
-- with their request counts.
local pool, i = nil, 0
local quant = os.getenv("BENCH_QUANT") == "1"   -- done() runs in wrk's main state, which init() never sees

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
   if quant then
      local q = {}
      for k = 0, 999 do
         q[#q + 1] = string.format("%d", latency:percentile((k + 0.5) / 10))
      end
      io.write("QUANT " .. table.concat(q, " ") .. "\n")
   end
end
