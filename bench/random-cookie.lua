-- wrk script for bench/redis-http.ts: every request carries one of the cookies in the file named
-- by BENCH_COOKIE_FILE (one per line), picked at random, so reads spread over many sessions.
local cookies = {}
local path = os.getenv("BENCH_PATH") or "/read"

function init(args)
  for line in io.lines(os.getenv("BENCH_COOKIE_FILE")) do
    table.insert(cookies, line)
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  return wrk.format("GET", path, { Cookie = cookies[math.random(#cookies)] })
end
