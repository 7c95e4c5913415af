-- What a Rollout offers depends on where it is: paused, aborted, fully promoted.
local offered = {}
local status = obj.status or {}
offered["restart"] = {displayName = "Restart Pods"}

local paused = false
if status.pauseConditions ~= nil then
  paused = table.getn(status.pauseConditions) > 0
elseif obj.spec.paused ~= nil then
  paused = obj.spec.paused
end
offered["resume"] = {disabled = not paused}

local promoted = status.currentPodHash == status.stableRS
local aborted = status.abort == true
offered["abort"] = {disabled = promoted or aborted}
offered["retry"] = {disabled = promoted or not aborted}

local canary = obj.spec.strategy ~= nil and obj.spec.strategy.canary ~= nil
local promote = true
if obj.status ~= nil and not promoted then
  local seen = tonumber(status.observedGeneration)
  if seen == nil or seen > (obj.metadata.generation or 0) then
    -- Rollouts before v0.10 wrote a hash here, and could only fully promote a canary.
    promote = not canary
  else
    promote = false
  end
end
offered["promote-full"] = {disabled = promote}

local steps = canary and obj.spec.strategy.canary.steps or nil
local step = status.currentStepIndex
offered["skip-current-step"] = {
  disabled = promoted or steps == nil or step == nil or step >= table.getn(steps),
}
offered["pause"] = {disabled = promoted or paused or aborted}
return offered
