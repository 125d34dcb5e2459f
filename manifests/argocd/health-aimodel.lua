-- Argo CD health check for modelguard.io/AIModel (resource.customizations.health.modelguard.io_AIModel)
local hs = {}
local transient = {SourceUnreachable = true, SourceUnauthorized = true, SourceNotFound = true,
                   SourceTimedOut = true, CredentialsNotFound = true, SignatureNotFound = true,
                   Verifying = true, Queued = true, AwaitingVerification = true}
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
local decommissioned = condition("Decommissioned")
if decommissioned ~= nil then
  if decommissioned.status == "True" then
    hs.status = "Suspended"
    hs.message = decommissioned.message or "Decommissioned"
  elseif decommissioned.reason == "InProgress" or decommissioned.reason == "LegalHold" then
    hs.status = "Progressing"
    hs.message = decommissioned.message or decommissioned.reason
  else
    hs.status = "Degraded"
    hs.message = says(decommissioned)
  end
  return hs
end
if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: the decommission is starting"
  return hs
end
if obj.status == nil or obj.status.observedGeneration == nil
    or obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for ModelGuard to reconcile this generation"
  return hs
end
local scan = condition("ScanPassed")
local override = condition("QuarantineOverridden")
if scan ~= nil and scan.status == "False" and scan.reason == "CriticalFindings"
    and (override == nil or override.status ~= "True") then
  hs.status = "Degraded"
  hs.message = scan.message or says(scan)
  return hs
end
local verified = condition("Verified")
local ready = condition("Ready")
if verified == nil or verified.status == "Unknown" or transient[verified.reason] then
  hs.status = "Progressing"
  hs.message = verified ~= nil and says(verified) or "Not verified yet"
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end
hs.status = "Degraded"
if ready ~= nil then
  hs.message = says(ready)
else
  hs.message = says(verified)
end
return hs
