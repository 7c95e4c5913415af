-- Health of an ops.example.com/v1 Backup (Argo CD resource_customizations layout).
-- Completed with a last successful time: Healthy. Running: Progressing. Failed: Degraded with
-- the operator's message. No status yet: Progressing until the first backup has run.
local hs = {status = "Progressing", message = "Waiting for first backup"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local phase = obj.status.phase
if phase == "Completed" and obj.status.lastSuccessfulTime ~= nil then
  hs.status = "Healthy"
  hs.message = "Last backup completed at " .. obj.status.lastSuccessfulTime
elseif phase == "Completed" then
  hs.message = "Backup completed without a success time"
elseif phase == "Running" then
  hs.message = "Backup in progress"
  if obj.status.lastAttemptTime ~= nil then
    hs.message = "Backup in progress since " .. obj.status.lastAttemptTime
  end
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = obj.status.message or "Backup failed"
elseif phase == "Pending" then
  hs.message = "Backup pending"
end
return hs
