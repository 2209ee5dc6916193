-- wrk script of bench/proxy/run.sh: rotates over the paths given after "--" (requests are
-- formatted once, with the -H headers) and prints one machine-readable RESULT line at the end.
local requests_ = {}
local next_ = 0

function init(args)
   for i, path in ipairs(args) do
      requests_[i] = wrk.format("GET", path)
   end
   if #requests_ == 0 then
      requests_[1] = wrk.format("GET", wrk.path)
   end
end

function request()
   next_ = next_ % #requests_ + 1
   return requests_[next_]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d " ..
      "timeout=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(99)))
end
