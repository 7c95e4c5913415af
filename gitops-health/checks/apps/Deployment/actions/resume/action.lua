-- Removing the field is what `kubectl rollout resume` leaves.
obj.spec.paused = nil
return obj
