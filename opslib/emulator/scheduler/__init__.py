"""EventBridge Scheduler: schedules that fire (moto stores them; this room runs them)."""
