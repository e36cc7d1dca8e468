"""Incidents, routing, silences and maintenance windows, notifiers.

signals.py    what analysis hands over: one diagnosed `Signal` per finished run
matchers.py   label matchers (`key=value`, `key!=value`, `key=~regex`, `key!~regex`)
silences.py   silences and maintenance windows: one-off or recurring, mode mute or pause
routes.py     routes by priority and labels to receivers; first match, continue, default
incidents.py  the incident lifecycle: fire, deduplicate, group per cluster, correlate a fleet,
              resolve, flakes recorded only, reminders, acknowledge (pure logic, no I/O)
messages.py   what every notification says (cluster, case, step, cause, confidence, priority, run link)
notifiers/    webhook, Slack, DingTalk, email (SMTP), PagerDuty Events v2
"""
