return string.find(string.rep('(', 2e5), '%b()')
