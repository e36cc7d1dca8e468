"""Triggers: when runs start — interval and cron spreading with jitter, CloudEvents, object watches."""
