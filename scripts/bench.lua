-- wrk replay of a pre-signed corpus written by `hookgate bench --write-corpus FILE --no-load`
-- (for each request: its length on a line, then its raw bytes). Each wrk thread keeps
-- every n-th request, so no two threads send the same event.
-- Usage: wrk -t2 -c64 -d20s -s scripts/bench.lua http://127.0.0.1:8080 -- FILE THREADS
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  local path, threads = args[1], tonumber(args[2])
  local f = assert(io.open(path, "rb"))
  requests, i = {}, 0
  local n = 0
  while true do
    local line = f:read("*l")
    if not line then break end
    local req = f:read(tonumber(line))
    if n % threads == tid then requests[#requests + 1] = req end
    n = n + 1
  end
  f:close()
end

-- After the corpus runs out requests repeat (answered "duplicate"); size it for the run.
function request()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
