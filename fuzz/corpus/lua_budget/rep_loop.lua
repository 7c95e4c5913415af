local s = string.rep('x', 1e7)
while true do local t = s:rep(1) end
