local status = obj.status
local canary = obj.spec.strategy.canary
if status ~= nil and canary ~= nil and canary.steps ~= nil then
  local step = status.currentStepIndex or 0
  if step < table.getn(canary.steps) then
    if status.pauseConditions ~= nil and table.getn(status.pauseConditions) > 0 then
      status.pauseConditions = nil
    end
    status.currentStepIndex = step + 1
  end
end
return obj
