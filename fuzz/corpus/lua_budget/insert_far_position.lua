table.insert({}, 2^53, 1)
