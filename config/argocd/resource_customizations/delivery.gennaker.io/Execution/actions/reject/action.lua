-- Reject the manual judgment that waits: spec.judgments.<judgment> = {decision: Stop, comment}; the stage
-- fails and its onFailure applies.
local decision = "Stop"
local input = nil
local judgment = actionParams["judgment"]
local waiting = {}
if obj.status ~= nil and (obj.status.phase == "AwaitingJudgment" or obj.status.phase == "Running") and obj.status.stages ~= nil then
  for _, s in ipairs(obj.status.stages) do
    if s.phase == "WaitingForJudgment" then
      table.insert(waiting, s.name)
    end
  end
end
if judgment == nil or judgment == "" then
  if table.getn(waiting) == 0 then
    error("no manual judgment waits on this run", 0)
  end
  if table.getn(waiting) > 1 then
    error("several manual judgments wait (" .. table.concat(waiting, ", ") .. "): name one in the judgment parameter", 0)
  end
  judgment = waiting[1]
end
local found = false
for _, name in ipairs(waiting) do
  if name == judgment then
    found = true
  end
end
if not found then
  error("stage " .. judgment .. " does not wait for a judgment", 0)
end
if obj.spec.judgments == nil then
  obj.spec.judgments = {}
end
if obj.spec.judgments[judgment] ~= nil then
  error("stage " .. judgment .. " is already judged", 0)
end

local j = {["decision"] = decision}
if input ~= nil and input ~= "" then
  j["input"] = input
end
local comment = actionParams["comment"]
if comment ~= nil and comment ~= "" then
  j["comment"] = comment
end
obj.spec.judgments[judgment] = j
return obj
