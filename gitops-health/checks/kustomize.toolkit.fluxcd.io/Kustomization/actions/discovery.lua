-- A suspended object can only be resumed; a running one reconciled or suspended.
local suspended = obj.spec.suspend == true
return {
  reconcile = {disabled = suspended},
  suspend = {disabled = suspended},
  resume = {disabled = not suspended},
}
