local s = string.rep('a', 40)
return s:find(string.rep('a*', 20) .. 'b')
