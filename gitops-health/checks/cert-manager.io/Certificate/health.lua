-- Health of a cert-manager Certificate (cert-manager.io/Certificate).
-- Written for this project from cert-manager's Certificate status API; not copied from any
-- other project.
--
-- Reads: metadata.generation; status.conditions of type Ready and Issuing (status, reason,
-- message, observedGeneration); status.notAfter.
--
-- Order: no conditions -> Progressing; Issuing=False (the last issuance attempt failed;
-- cert-manager removes the condition on success) -> Degraded, saying whether the current
-- certificate is still valid; Issuing=True -> Progressing; Ready missing or written for an
-- older generation -> Progressing; Ready=True -> Healthy; Ready=False -> Degraded; otherwise
-- Progressing. Messages are the conditions' own.

local function tbl(v) if type(v) == "table" then return v end return nil end
local function text(v) if type(v) == "string" and v ~= "" then return v end return nil end

local function int(n)
  if n == math.floor(n) and n > -1e15 and n < 1e15 then return string.format("%d", n) end
  return tostring(n)
end

local o = tbl(obj) or {}
local meta = tbl(o.metadata) or {}
local status = tbl(o.status) or {}
local gen = meta.generation
if type(gen) ~= "number" then gen = nil end

local function condition(kind)
  for _, c in ipairs(tbl(status.conditions) or {}) do
    if tbl(c) and c.type == kind then return c end
  end
  return nil
end

-- A condition counts unless it says it was written for an older generation.
local function current(c)
  return gen == nil or type(c.observedGeneration) ~= "number" or c.observedGeneration >= gen
end

local ready = condition("Ready")
local issuing = condition("Issuing")

if ready == nil and issuing == nil then
  return {status = "Progressing", message = "Waiting for cert-manager to process the Certificate"}
end

if issuing ~= nil and issuing.status == "False" and current(issuing) then
  local msg = text(issuing.message) or text(issuing.reason) or "issuance failed"
  if ready ~= nil and ready.status == "True" then
    local notAfter = text(status.notAfter)
    if notAfter ~= nil then
      msg = "Renewal failed; the current certificate is still valid until " .. notAfter .. ": " .. msg
    else
      msg = "Renewal failed; the current certificate is still valid: " .. msg
    end
  end
  return {status = "Degraded", message = msg}
end

if issuing ~= nil and issuing.status == "True" then
  return {status = "Progressing", message = text(issuing.message) or "Issuing certificate"}
end

if ready == nil then
  return {status = "Progressing", message = "Waiting for cert-manager to report readiness"}
end
if not current(ready) then
  return {status = "Progressing",
    message = "Waiting for cert-manager to process generation " .. int(gen)}
end
if ready.status == "True" then
  return {status = "Healthy", message = text(ready.message) or ""}
end
if ready.status == "False" then
  return {status = "Degraded", message = text(ready.message) or text(ready.reason) or "Certificate is not ready"}
end
return {status = "Progressing", message = text(ready.message) or "Waiting for cert-manager to report readiness"}
