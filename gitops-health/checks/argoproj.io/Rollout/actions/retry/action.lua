if obj.status ~= nil then
  obj.status.abort = nil
end
return obj
