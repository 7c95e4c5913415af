-- Widget health: Ready when every shard is up, Degraded when the operator says Failed.
local hs = {status = "Progressing", message = "Waiting for the widget operator"}
if obj.status ~= nil then
  if obj.status.phase == "Failed" then
    hs.status = "Degraded"
    hs.message = obj.status.message or "Widget failed"
  elseif obj.status.phase == "Ready" and obj.status.readyShards == obj.spec.size then
    hs.status = "Healthy"
    hs.message = obj.status.readyShards .. " shards ready"
  elseif obj.status.readyShards ~= nil then
    hs.message = obj.status.readyShards .. " of " .. obj.spec.size .. " shards ready"
  end
end
return hs
