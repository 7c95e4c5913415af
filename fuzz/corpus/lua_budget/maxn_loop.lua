local t = {}
for i = 1, 1e6 do t[i] = i end
while true do table.maxn(t) end
