-- Sets the replica count to the `replicas` parameter.
local wanted = actionParams["replicas"]
if wanted == nil or wanted == "" then
  error("the `replicas` parameter is required", 0)
end
local n = tonumber(wanted)
if n == nil or n < 0 or n % 1 ~= 0 then
  error("replicas must be a whole number >= 0, not " .. wanted, 0)
end
obj.spec.replicas = n
return obj
