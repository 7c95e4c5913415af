-- Health of a Flux HelmRelease (helm.toolkit.fluxcd.io/HelmRelease).
-- Written for this project from Flux's status conventions (kstatus) and helm-controller's
-- conditions; not copied from any other project.
--
-- Reads: metadata.generation, metadata.name/namespace; spec.suspend; status.observedGeneration;
-- status.conditions of type Ready, Reconciling, Stalled, Released, TestSuccess, Remediated
-- (status, reason, message, observedGeneration).
--
-- Order: spec.suspend -> Suspended; no conditions -> Progressing; Stalled=True (e.g. retries
-- exhausted) -> Degraded; Ready=False for the current generation -> Degraded (reason
-- DependencyNotReady -> Progressing), unless a reconciliation is running; Reconciling=True ->
-- Progressing (except reason ProgressingWithRetry, a failed attempt awaiting retry);
-- observedGeneration behind generation -> Progressing; Ready=True -> Healthy; otherwise
-- Progressing. After a rollback/uninstall (Remediated=True) the message names the failed
-- Released or TestSuccess step, then the remediation.

local function tbl(v) if type(v) == "table" then return v end return nil end
local function text(v) if type(v) == "string" and v ~= "" then return v end return nil end

local function int(n)
  if n == math.floor(n) and n > -1e15 and n < 1e15 then return string.format("%d", n) end
  return tostring(n)
end

local CONTROLLER = "helm-controller"

local o = tbl(obj) or {}
local meta = tbl(o.metadata) or {}
local spec = tbl(o.spec) or {}
local status = tbl(o.status) or {}
local gen = meta.generation
if type(gen) ~= "number" then gen = nil end

if spec.suspend == true then
  local msg = "Reconciliation is suspended (spec.suspend is true)"
  local name, ns = text(meta.name), text(meta.namespace)
  if name ~= nil then
    msg = msg .. "; resume it with: flux resume helmrelease " .. name
    if ns ~= nil then msg = msg .. " -n " .. ns end
  end
  return {status = "Suspended", message = msg}
end

-- The first condition of each type.
local conds = {}
local any = false
for _, c in ipairs(tbl(status.conditions) or {}) do
  if tbl(c) and type(c.type) == "string" and conds[c.type] == nil then
    conds[c.type] = c
    any = true
  end
end
if not any then
  return {status = "Progressing", message = "Waiting for " .. CONTROLLER .. " to reconcile"}
end

-- A condition counts unless it says it was written for an older generation.
local function current(c)
  return gen == nil or type(c.observedGeneration) ~= "number" or c.observedGeneration >= gen
end
local function isTrue(c) return c ~= nil and c.status == "True" and current(c) end
local function messageOf(c, fallback) return text(c.message) or text(c.reason) or fallback end

local ready, reconciling, stalled = conds.Ready, conds.Reconciling, conds.Stalled
-- Flux keeps Reconciling=True with reason ProgressingWithRetry after a failed attempt:
-- that is a failure waiting for its retry, not progress.
local retrying = reconciling ~= nil and reconciling.status == "True" and reconciling.reason == "ProgressingWithRetry"
local inProgress = reconciling ~= nil and reconciling.status == "True" and not retrying

-- The Ready message; after a remediation (rollback or uninstall) Ready only tells the
-- remediation, so the failure that caused it is put in front.
local function failure()
  local msg = messageOf(ready, "Reconciliation failed")
  local remediated = conds.Remediated
  if remediated ~= nil and remediated.status == "True" and current(remediated) then
    local cause
    local released, tested = conds.Released, conds.TestSuccess
    if released ~= nil and released.status == "False" then
      cause = text(released.message)
    elseif tested ~= nil and tested.status == "False" then
      cause = text(tested.message)
    end
    local remedy = text(remediated.message)
    if cause ~= nil and remedy ~= nil then return cause .. "; " .. remedy end
  end
  return msg
end

local function finish(msg) return msg end

if isTrue(stalled) then
  local msg = messageOf(stalled, "Reconciliation stalled")
  if ready ~= nil and ready.status == "False" and current(ready) then
    local detail = failure()
    if detail ~= msg then msg = msg .. ": " .. detail end
  end
  return {status = "Degraded", message = finish(msg)}
end

if ready ~= nil and ready.status == "False" and current(ready) and not inProgress then
  if ready.reason == "DependencyNotReady" then
    return {status = "Progressing", message = messageOf(ready, "Waiting for dependencies to become ready")}
  end
  return {status = "Degraded", message = finish(failure())}
end

if inProgress then
  return {status = "Progressing", message = messageOf(reconciling, "Reconciliation in progress")}
end

local observed = status.observedGeneration
if type(observed) ~= "number" then observed = nil end
if gen ~= nil and ((observed ~= nil and observed < gen) or (ready ~= nil and not current(ready))) then
  local msg = "Waiting for " .. CONTROLLER .. " to reconcile generation " .. int(gen)
  if observed ~= nil and observed >= 1 then msg = msg .. " (last reconciled: " .. int(observed) .. ")" end
  return {status = "Progressing", message = msg}
end

if ready == nil then
  return {status = "Progressing", message = "Waiting for " .. CONTROLLER .. " to report readiness"}
end
if ready.status == "True" then
  return {status = "Healthy", message = text(ready.message) or ""}
end
if retrying and text(reconciling.message) ~= nil then
  return {status = "Progressing", message = reconciling.message}
end
return {status = "Progressing",
  message = text(ready.message) or ("Waiting for " .. CONTROLLER .. " to report readiness")}
