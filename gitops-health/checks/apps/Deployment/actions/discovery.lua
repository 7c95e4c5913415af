local offered = {}
offered["restart"] = {}
local paused = obj.spec.paused == true
offered["pause"] = {disabled = paused}
offered["resume"] = {disabled = not paused}
offered["scale"] = {params = {{name = "replicas", default = tostring(obj.spec.replicas or 1)}}}
return offered
