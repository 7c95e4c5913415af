return string.find(string.rep('a', 3000), string.rep('a-', 100) .. 'b')
