local s = string.rep('1', 1e7)
while true do tonumber(s) end
