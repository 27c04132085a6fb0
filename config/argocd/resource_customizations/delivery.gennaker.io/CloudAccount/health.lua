-- Health of a Gennaker CloudAccount (one cloud identity): Healthy once its credentials made an
-- authenticated call; Degraded when they were refused (Stalled: only a person can fix them); Progressing
-- while checked, retried, or deleted and still in use.
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
  hs.message = "Waiting for the operator to check the account"
  return hs
end

local ready = condition("Ready")
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
else
  hs.status = "Progressing"
  if ready ~= nil then
    hs.message = ready.message
  else
    hs.message = "Waiting for the operator to check the account"
  end
end
return hs
