if obj.status == nil then
  obj.status = {}
end
obj.status.abort = true
return obj
