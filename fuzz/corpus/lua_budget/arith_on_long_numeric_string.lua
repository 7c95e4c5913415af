local s = '1'
for i = 1, 23 do s = s .. s end
while true do local x = s + 0 end
