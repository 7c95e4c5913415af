local offered = {}
offered["restart"] = {}
offered["scale"] = {params = {{name = "replicas", default = tostring(obj.spec.replicas or 1)}}}
return offered
