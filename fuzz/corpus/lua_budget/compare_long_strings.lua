local s = 'x'
for i = 1, 23 do s = s .. s end
while true do local x = s < s end
