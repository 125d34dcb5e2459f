-- Argo CD health check for modelguard.io/AIDeployment (resource.customizations.health.modelguard.io_AIDeployment)
local hs = {}
local waiting = {WaitingForModel = true, ReplicasUnavailable = true, NotDeployed = true, ModelNotFound = true,
                 Conflict = true, Queued = true}
local generation = obj.metadata.generation or 0
-- a condition written for an older generation says nothing about this one
local function condition(t)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == t and (c.observedGeneration == nil or c.observedGeneration >= generation) then return c end
    end
  end
  return nil
end
local function says(c)
  return (c.reason or "Unknown") .. ": " .. (c.message or "")
end
if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted"
  return hs
end
if obj.status == nil or obj.status.observedGeneration == nil
    or obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for ModelGuard to reconcile this generation"
  return hs
end
local quarantined = condition("Quarantined")
if quarantined ~= nil and quarantined.status == "True" then
  hs.status = "Degraded"
  hs.message = "Quarantined: " .. says(quarantined)
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end
if ready ~= nil and ready.reason == "AwaitingApproval" then
  hs.status = "Suspended"
  hs.message = "Waiting for human approval: " .. (ready.message or "")
  return hs
end
if ready == nil or waiting[ready.reason] then
  hs.status = "Progressing"
  hs.message = ready ~= nil and says(ready) or "Waiting for status"
  return hs
end
hs.status = "Degraded"
hs.message = says(ready)
return hs
