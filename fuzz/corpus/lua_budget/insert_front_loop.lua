local t = {}
for i = 1, 1e6 do t[i] = i end
while true do table.insert(t, 1, 0) end
