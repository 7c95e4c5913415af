-- A run that has finished cannot be terminated.
local phase = obj.status and obj.status.phase or ""
local done = phase == "Successful" or phase == "Failed" or phase == "Error" or phase == "Inconclusive"
return {terminate = {disabled = obj.spec.terminate == true or done}}
