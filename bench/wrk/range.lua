-- One random byte range per request: Range: bytes=a-(a+SLICE-1), a uniform in
-- [0, SIZE-SLICE] (any byte offset, not aligned).
-- $BENCH_FILE_SIZE (default 256 MiB), $BENCH_SLICE (default 1 MiB).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local size = common.env_number("BENCH_FILE_SIZE", 268435456)
local slice = common.env_number("BENCH_SLICE", 1048576)
assert(size >= slice, "file smaller than slice")

common.seed()

request = function()
  local a = common.rand_int(0, size - slice)
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. a .. "-" .. (a + slice - 1) })
end

done = common.done
