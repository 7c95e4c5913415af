return string.match(string.rep('a', 40), string.rep('(a*)', 20) .. 'b')
