local f = string.rep('%Y', 5e5)
for i = 1, 200 do os.date(f) end
