for x in string.gmatch(string.rep('a', 40), string.rep('a*', 20) .. 'b') do end
