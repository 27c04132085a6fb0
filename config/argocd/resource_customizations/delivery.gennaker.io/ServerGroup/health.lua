-- Health of a Gennaker ServerGroup (a versioned group of cloud instances behind a load balancer): Healthy
-- once Ready and all its instances healthy; Degraded when the cloud group is not the operator's (NotOwned)
-- or the operator cannot go on without a person (Stalled); Progressing otherwise (a rollout, a resize, a
-- traffic change, a deletion, or a transient cloud error being retried).
local hs = {}

local function condition(type)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

if obj.status == nil or obj.status.observedGeneration == nil or obj.metadata.generation == nil or
    obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the server group"
  return hs
end

local ready = condition("Ready")
local healthy = condition("Healthy")
local stalled = condition("Stalled")
if ready ~= nil and ready.status == "False" and ready.reason == "NotOwned" then
  hs.status = "Degraded"
  hs.message = ready.message
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
if ready ~= nil and ready.status == "True" and healthy ~= nil and healthy.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
if ready ~= nil and ready.status ~= "True" then
  hs.message = ready.message
elseif healthy ~= nil then
  hs.message = healthy.message
else
  hs.message = "Waiting for the operator to observe the server group"
end
return hs
