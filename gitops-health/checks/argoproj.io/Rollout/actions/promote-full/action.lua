-- Skips what is left of the steps (canary) or the pause before promotion (blue-green).
if obj.status == nil then
  obj.status = {}
end
obj.status.abort = nil
local canary = obj.spec.strategy.canary
if canary ~= nil and canary.steps ~= nil then
  obj.status.currentStepIndex = table.getn(canary.steps)
end
obj.status.promoteFull = true
return obj
