local os = require('os')
local f = string.rep('%c', 500)
while true do os.date(f) end
