-- A Job from the CronJob's template, now, as `kubectl create job --from=cronjob/NAME`:
-- returned in the list form, to be created.
local os = require("os")

-- Empty tables would come out as `[]`, which is not a map: they are left out.
local function copy(value)
  if type(value) ~= "table" then
    return value
  end
  if next(value) == nil then
    return nil
  end
  local out = {}
  for k, v in pairs(value) do
    out[k] = copy(v)
  end
  return out
end

local template = obj.spec.jobTemplate
local job = {apiVersion = "batch/v1", kind = "Job"}
job.metadata = copy(template.metadata) or {}
job.metadata.name = obj.metadata.name .. "-" .. os.date("!%Y%m%d%H%M")
job.metadata.namespace = obj.metadata.namespace
job.metadata.ownerReferences = {
  {apiVersion = obj.apiVersion, kind = obj.kind, name = obj.metadata.name, uid = obj.metadata.uid},
}
job.spec = copy(template.spec)
return {{operation = "create", resource = job}}
