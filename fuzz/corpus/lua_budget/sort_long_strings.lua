local s = string.rep('x', 1e7)
local t = {}
for i = 1, 200 do t[i] = s end
table.sort(t)
