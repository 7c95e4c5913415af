-- Health of a Bitnami SealedSecret (bitnami.com/SealedSecret).
-- Written for this project from the sealed-secrets controller's status API; not copied from
-- any other project.
--
-- Reads: metadata.generation; status.observedGeneration; status.conditions of type Synced
-- (status, message).
--
-- Order: no status -> Progressing; observedGeneration behind generation -> Progressing;
-- no Synced condition -> Progressing; Synced=True -> Healthy; Synced=False -> Degraded with
-- the controller's message (e.g. no key could decrypt the secret); otherwise Progressing.

local function tbl(v) if type(v) == "table" then return v end return nil end
local function text(v) if type(v) == "string" and v ~= "" then return v end return nil end

local function int(n)
  if n == math.floor(n) and n > -1e15 and n < 1e15 then return string.format("%d", n) end
  return tostring(n)
end

local o = tbl(obj) or {}
local meta = tbl(o.metadata) or {}
local status = tbl(o.status)
local waiting = "Waiting for the sealed-secrets controller to unseal the secret"

if status == nil or next(status) == nil then
  return {status = "Progressing", message = waiting}
end

local gen, observed = meta.generation, status.observedGeneration
if type(gen) == "number" and type(observed) == "number" and observed < gen then
  return {status = "Progressing",
    message = "Waiting for the sealed-secrets controller to process generation " .. int(gen) ..
      " (last processed: " .. int(observed) .. ")"}
end

local synced
for _, c in ipairs(tbl(status.conditions) or {}) do
  if tbl(c) and c.type == "Synced" then synced = c break end
end
if synced == nil then
  return {status = "Progressing", message = waiting}
end
if synced.status == "True" then
  return {status = "Healthy", message = text(synced.message) or ""}
end
if synced.status == "False" then
  return {status = "Degraded",
    message = text(synced.message) or text(synced.reason) or "The secret could not be unsealed"}
end
return {status = "Progressing", message = text(synced.message) or waiting}
