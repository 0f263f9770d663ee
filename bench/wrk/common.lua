-- Shared by the bench/wrk/*.lua scripts (loaded with dofile from the
-- directory of the calling script).
--
-- done() writes ONE line of JSON with the summary of the run to the file
-- named by $BENCH_WRK_OUT (or to stdout when unset). bench/run.mjs parses it.
-- wrk's summary.errors.status counts responses with status >= 400.

local M = {}

function M.env_number(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  local n = tonumber(v)
  if n == nil then error("bad number in $" .. name .. ": " .. v) end
  return n
end

-- Same seed for every server so each one sees the same sequence of ranges.
function M.seed()
  math.randomseed(M.env_number("BENCH_SEED", 20240601))
  -- LuaJIT: the first values after seeding are poorly mixed; discard a few.
  for _ = 1, 10 do math.random() end
end

-- Uniform integer in [lo, hi]; exact for hi < 2^53 (math.random(m, n) in
-- LuaJIT is fine for our sizes too, but this avoids any 32-bit surprises).
function M.rand_int(lo, hi)
  return lo + math.floor(math.random() * (hi - lo + 1))
end

local function num(x)
  -- integers without exponent / decimal point, everything else with %.3f
  if x == math.floor(x) and math.abs(x) < 2^53 then
    return string.format("%d", x)
  end
  return string.format("%.3f", x)
end

function M.done(summary, latency, requests)
  local e = summary.errors
  local parts = {
    '"requests":' .. num(summary.requests),
    '"bytes":' .. num(summary.bytes),
    '"duration_us":' .. num(summary.duration),
    '"errors":{"connect":' .. num(e.connect) ..
      ',"read":' .. num(e.read) ..
      ',"write":' .. num(e.write) ..
      ',"status":' .. num(e.status) ..
      ',"timeout":' .. num(e.timeout) .. '}',
  }
  if summary.requests > 0 then
    table.insert(parts, '"latency_us":{"min":' .. num(latency.min) ..
      ',"mean":' .. num(latency.mean) ..
      ',"max":' .. num(latency.max) ..
      ',"p50":' .. num(latency:percentile(50)) ..
      ',"p90":' .. num(latency:percentile(90)) ..
      ',"p99":' .. num(latency:percentile(99)) .. '}')
  else
    table.insert(parts, '"latency_us":null')
  end
  local line = "{" .. table.concat(parts, ",") .. "}\n"
  local path = os.getenv("BENCH_WRK_OUT")
  if path ~= nil and path ~= "" then
    local f = assert(io.open(path, "w"))
    f:write(line)
    f:close()
  else
    io.write("BENCH_JSON " .. line)
  end
end

return M
