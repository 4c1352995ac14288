-- Gives each wrk thread its own session cookie, taken in turn from BENCH_COOKIES ("a|b|..."), so
-- that with Tether each thread's connections belong to one worker, as a browser's would.
local threads = 0
function setup(thread)
  threads = threads + 1
  local cookies = {}
  for c in string.gmatch(os.getenv("BENCH_COOKIES") or "", "[^|]+") do
    table.insert(cookies, c)
  end
  if #cookies > 0 then
    thread:set("cookie", cookies[(threads - 1) % #cookies + 1])
  end
end

function init(args)
  if cookie ~= nil then
    wrk.headers["Cookie"] = cookie
  end
end
