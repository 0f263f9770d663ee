-- Plain GET of the URL given to wrk; only adds the JSON summary hook.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

done = common.done
