-- Cancel the run: running stages are told to stop and nothing new starts. It cannot be undone.
if obj.status ~= nil and (obj.status.phase == "Succeeded" or obj.status.phase == "Failed" or obj.status.phase == "Canceled") then
  error("the run is over (" .. obj.status.phase .. ")", 0)
end
obj.spec.cancel = true
return obj
