-- Argo CD health check for modelguard.io/AIModel (resource.customizations.health.modelguard.io_AIModel)
local hs = {}
local transient = {SourceUnreachable = true, SourceUnauthorized = true, SourceNotFound = true,
                   CredentialsNotFound = true, SignatureNotFound = true, Verifying = true,
                   AwaitingVerification = true}
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
local decommissioned = condition("Decommissioned")
if decommissioned ~= nil then
  if decommissioned.status == "True" then
    hs.status = "Suspended"
    hs.message = decommissioned.message
  elseif decommissioned.reason == "InProgress" or decommissioned.reason == "LegalHold" then
    hs.status = "Progressing"
    hs.message = decommissioned.message
  else
    hs.status = "Degraded"
    hs.message = decommissioned.reason .. ": " .. decommissioned.message
  end
  return hs
end
local scan = condition("ScanPassed")
local override = condition("QuarantineOverridden")
if scan ~= nil and scan.status == "False" and scan.reason == "CriticalFindings"
    and (override == nil or override.status ~= "True") then
  hs.status = "Degraded"
  hs.message = scan.message
  return hs
end
local verified = condition("Verified")
local ready = condition("Ready")
if verified == nil or verified.status == "Unknown" or transient[verified.reason] then
  hs.status = "Progressing"
  hs.message = verified ~= nil and (verified.reason .. ": " .. verified.message) or "Not verified yet"
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
hs.status = "Degraded"
if ready ~= nil then
  hs.message = ready.reason .. ": " .. ready.message
else
  hs.message = verified.reason .. ": " .. verified.message
end
return hs
