-- Health of a Gennaker Execution (one run of a Pipeline): a run waiting for a manual judgment is Suspended,
-- with the stage and its instructions as the message, as Argo CD shows a paused Rollout.
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

local function message()
  if obj.status.message ~= nil and obj.status.message ~= "" then
    return obj.status.message
  end
  local ready = condition("Ready")
  if ready ~= nil and ready.message ~= nil then
    return ready.message
  end
  return ""
end

if obj.status == nil or obj.status.phase == nil or obj.status.observedGeneration == nil or
    obj.metadata.generation == nil or obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the run"
  return hs
end

local phase = obj.status.phase
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Failed" or phase == "Canceled" then
  hs.status = "Degraded"
elseif phase == "AwaitingJudgment" then
  hs.status = "Suspended"
elseif phase == "Running" then
  -- An operator from before the AwaitingJudgment phase says so in a condition only.
  local waiting = condition("AwaitingJudgment")
  if waiting ~= nil and waiting.status == "True" then
    hs.status = "Suspended"
    hs.message = waiting.message
    return hs
  end
  hs.status = "Progressing"
else
  -- Queued, or a phase of a newer operator
  hs.status = "Progressing"
end
hs.message = message()
return hs
