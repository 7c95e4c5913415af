return string.find(string.rep('a', 1e6), string.rep('a', 5e5) .. 'b', 1, true)
