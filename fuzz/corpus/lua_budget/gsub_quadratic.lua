return string.gsub(string.rep('a', 1e5), 'a-b', '')
