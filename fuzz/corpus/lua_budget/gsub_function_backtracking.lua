return string.gsub(string.rep('a', 40), string.rep('a*', 20) .. 'b', function() end)
