-- Argo CD health check for modelguard.io/AIDeployment (resource.customizations.health.modelguard.io_AIDeployment)
local hs = {}
local waiting = {WaitingForModel = true, ReplicasUnavailable = true, NotDeployed = true, ModelNotFound = true,
                 Conflict = true}
local function condition(t)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == t then return c end
    end
  end
  return nil
end
if obj.status == nil or obj.status.observedGeneration == nil
    or obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for ModelGuard to reconcile this generation"
  return hs
end
local quarantined = condition("Quarantined")
if quarantined ~= nil and quarantined.status == "True" then
  hs.status = "Degraded"
  hs.message = "Quarantined: " .. quarantined.message
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready ~= nil and ready.reason == "AwaitingApproval" then
  hs.status = "Suspended"
  hs.message = "Waiting for human approval: " .. ready.message
  return hs
end
if ready == nil or waiting[ready.reason] then
  hs.status = "Progressing"
  hs.message = ready ~= nil and (ready.reason .. ": " .. ready.message) or "Waiting for status"
  return hs
end
hs.status = "Degraded"
hs.message = ready.reason .. ": " .. ready.message
return hs
