-- Health of a Gennaker Pipeline: Degraded when the operator found it invalid; otherwise it reflects its
-- latest run (status.lastRun): Progressing while that run is queued or running, Degraded if it failed or
-- was canceled, Healthy if it succeeded or there is none yet.
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
  hs.message = "Waiting for the operator to check the pipeline"
  return hs
end

local ready = condition("Ready")
if ready == nil or ready.status ~= "True" then
  hs.status = "Degraded"
  if ready ~= nil then
    hs.message = ready.message
  end
  return hs
end

local last = obj.status.lastRun
if last == nil then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if last.phase == nil or last.phase == "" then
  hs.status = "Progressing"
  hs.message = "latest run " .. last.execution .. " has not started"
  return hs
end
hs.message = "latest run " .. last.execution .. " is " .. last.phase
if last.phase == "Succeeded" then
  hs.status = "Healthy"
elseif last.phase == "Failed" or last.phase == "Canceled" then
  hs.status = "Degraded"
elseif last.phase == "AwaitingJudgment" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
end
return hs
