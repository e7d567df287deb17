-- wrk script of the sync_budget benchmark (scripts/bench.sh): every request carries the
-- bench user's access token (BENCH_TOKEN), and the run ends with one machine-readable line
-- that the benchmark parses (latencies in microseconds; error counts by kind, where
-- `status` counts answers that were not 2xx or 3xx).
local token = os.getenv("BENCH_TOKEN")
if token == nil or token == "" then
  error("BENCH_TOKEN is not set")
end
wrk.headers["Authorization"] = "Bearer " .. token

function done(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
