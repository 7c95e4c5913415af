return string.find(string.rep('a', 1e5), '[' .. string.rep('b', 1e5) .. ']+c')
