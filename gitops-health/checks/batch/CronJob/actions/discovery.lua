local offered = {}
offered["create-job"] = {displayName = "Create Job", iconClass = "fa fa-fw fa-plus"}
local suspended = obj.spec.suspend == true
offered["suspend"] = {disabled = suspended}
offered["resume"] = {disabled = not suspended}
return offered
