local t = {}
for i = 1, 2e6 do t[i] = 'x' end
while true do table.concat(t) end
