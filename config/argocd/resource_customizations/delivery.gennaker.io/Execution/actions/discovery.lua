-- Actions on a Gennaker Execution: approve or reject the manual judgment that waits (only while one
-- does), and cancel the run (until it is over or already canceled).
local actions = {}

local waiting = {}
if obj.status ~= nil and (obj.status.phase == "AwaitingJudgment" or obj.status.phase == "Running") and obj.status.stages ~= nil then
  for _, s in ipairs(obj.status.stages) do
    if s.phase == "WaitingForJudgment" then
      table.insert(waiting, s.name)
    end
  end
end
local judging = table.getn(waiting) > 0
-- The judgment defaults to the one that waits; with several, the person must name one (the action says
-- which wait), rather than approve whichever came first.
local first = ""
if table.getn(waiting) == 1 then
  first = waiting[1]
end

actions["approve"] = {
  ["disabled"] = not judging,
  ["iconClass"] = "fa fa-fw fa-check",
  ["params"] = {
    {["name"] = "judgment", ["default"] = first},
    {["name"] = "input"},
    {["name"] = "comment"}
  }
}
actions["reject"] = {
  ["disabled"] = not judging,
  ["iconClass"] = "fa fa-fw fa-times",
  ["params"] = {
    {["name"] = "judgment", ["default"] = first},
    {["name"] = "comment"}
  }
}

local over = obj.status ~= nil and (obj.status.phase == "Succeeded" or obj.status.phase == "Failed" or obj.status.phase == "Canceled")
actions["cancel"] = {
  ["disabled"] = over or obj.spec.cancel == true,
  ["iconClass"] = "fa fa-fw fa-stop"
}
return actions
