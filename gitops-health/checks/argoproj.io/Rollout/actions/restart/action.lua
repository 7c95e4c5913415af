-- The controller restarts every pod older than spec.restartAt.
local os = require("os")
obj.spec.restartAt = os.date("!%Y-%m-%dT%XZ")
return obj
