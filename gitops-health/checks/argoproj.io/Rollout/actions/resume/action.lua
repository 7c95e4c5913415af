local status = obj.status
if status ~= nil and status.pauseConditions ~= nil and table.getn(status.pauseConditions) > 0 then
  status.pauseConditions = nil
end
if obj.spec.paused == true then
  obj.spec.paused = false
end
return obj
