-- Health of an External Secrets Operator ExternalSecret (external-secrets.io/ExternalSecret).
-- Written for this project from the ExternalSecret status API; not copied from any other project.
--
-- Reads: metadata.generation; status.conditions of type Ready (status, reason such as
-- SecretSynced / SecretSyncedError, message) and Deleted (lastTransitionTime, message);
-- status.refreshTime (time of the last successful sync); status.syncedResourceVersion
-- ("<generation>-<hash>" of the spec last synced).
--
-- Order: no conditions -> Progressing; Ready=False -> Degraded with its message; a Deleted
-- condition newer than the last successful sync (deletionPolicy Delete removed the target
-- Secret because the provider had no data) -> Degraded; Ready=True but synced from an older
-- generation -> Progressing; Ready=True -> Healthy; otherwise Progressing.

local function tbl(v) if type(v) == "table" then return v end return nil end
local function text(v) if type(v) == "string" and v ~= "" then return v end return nil end

local function int(n)
  if n == math.floor(n) and n > -1e15 and n < 1e15 then return string.format("%d", n) end
  return tostring(n)
end

local o = tbl(obj) or {}
local meta = tbl(o.metadata) or {}
local status = tbl(o.status) or {}

local ready, deleted
for _, c in ipairs(tbl(status.conditions) or {}) do
  if tbl(c) then
    if c.type == "Ready" and ready == nil then ready = c end
    if c.type == "Deleted" and deleted == nil then deleted = c end
  end
end

local waiting = "Waiting for the external-secrets controller to sync the secret"
if ready == nil and deleted == nil then
  return {status = "Progressing", message = waiting}
end

if ready ~= nil and ready.status == "False" then
  return {status = "Degraded",
    message = text(ready.message) or text(ready.reason) or "The secret could not be synced from the provider"}
end

-- Kubernetes timestamps are RFC 3339 in UTC with a fixed layout, so they compare as strings.
if deleted ~= nil then
  local deletedAt, refreshedAt = text(deleted.lastTransitionTime), text(status.refreshTime)
  if deletedAt == nil or refreshedAt == nil or deletedAt >= refreshedAt then
    return {status = "Degraded", message = "Target Secret was deleted: " ..
      (text(deleted.message) or "the provider returned no data and deletionPolicy is Delete")}
  end
end

if ready ~= nil and ready.status == "True" then
  local gen = meta.generation
  local synced = type(status.syncedResourceVersion) == "string" and
    tonumber(string.match(status.syncedResourceVersion, "^(%d+)%-")) or nil
  if type(gen) == "number" and synced ~= nil and synced < gen then
    return {status = "Progressing",
      message = "Waiting for the external-secrets controller to sync generation " .. int(gen)}
  end
  return {status = "Healthy", message = text(ready.message) or ""}
end

return {status = "Progressing", message = (ready ~= nil and text(ready.message)) or waiting}
