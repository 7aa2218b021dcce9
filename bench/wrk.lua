-- wrk script for the proxy workloads (bench/workloads/proxy-*.sh).
-- Environment:
--   WRK_PATH     request target: "/small" (origin-form, direct or TCP relay)
--                or "http://127.0.0.1:PORT/small" (absolute-form to a proxy)
--   WRK_HOST     Host header (the origin's host:port)
--   WRK_CLOSE=1  "Connection: close": one request per connection
--   WRK_CONNECT  host:port: every connection sends "CONNECT host:port" and,
--                in the same write, a GET with Connection: close for the
--                tunnel; the response (200 and then the origin's reply
--                through the tunnel) ends when the tunnel closes, so each
--                completed request is one tunnel set up and used.
-- done() prints one JSON line: requests, duration, errors, p50/p99 latency.
wrk.path = os.getenv("WRK_PATH") or "/"
wrk.headers["Host"] = os.getenv("WRK_HOST")
if os.getenv("WRK_CLOSE") == "1" then
	wrk.headers["Connection"] = "close"
end

local connect = os.getenv("WRK_CONNECT")
if connect then
	local raw = "CONNECT " .. connect .. " HTTP/1.1\r\nHost: " .. connect .. "\r\n\r\n"
		.. "GET " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.headers["Host"]
		.. "\r\nConnection: close\r\n\r\n"
	request = function()
		return raw
	end
end

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'{"requests":%d,"duration_us":%d,"errors":%d,"status_errors":%d,"p50_us":%d,"p99_us":%d,"bytes":%d}\n',
		summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
		e.status, latency:percentile(50), latency:percentile(99), summary.bytes))
end
