-- Two random byte ranges per request (multipart/byteranges response):
-- Range: bytes=a-(a+SLICE-1),c-(c+SLICE-1) with a < c, ascending and with a
-- gap of at least SLICE bytes so no server can legitimately coalesce them.
-- $BENCH_FILE_SIZE (default 256 MiB), $BENCH_SLICE (default 64 KiB).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local size = common.env_number("BENCH_FILE_SIZE", 268435456)
local slice = common.env_number("BENCH_SLICE", 65536)
assert(size >= 3 * slice, "file too small for two separated slices")

common.seed()

request = function()
  -- a in [0, size - 3*slice], c in [a + 2*slice, size - slice]
  local a = common.rand_int(0, size - 3 * slice)
  local c = common.rand_int(a + 2 * slice, size - slice)
  local r = "bytes=" .. a .. "-" .. (a + slice - 1) .. "," .. c .. "-" .. (c + slice - 1)
  return wrk.format("GET", nil, { ["Range"] = r })
end

done = common.done
