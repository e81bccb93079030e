"""The seed scenario's protocol file: three agents and a human, and the bug-report chain.

``handoff demo`` writes it next to its database and applies it; the docs quote it.
"""

from __future__ import annotations

__all__ = ["SEED_PROTOCOL"]

SEED_PROTOCOL = """\
name = "seed: inbox monitor, coding agent, support agent"

[agents.inbox_monitor]
[agents.code_agent]
[agents.support_agent]
[agents.backup_agent]
[agents."human:me"]
admin = true

[kinds.bug_report]
trigger = "Bug report detected"
to = "code_agent"
priority = "medium"
ack_within = "1h"
deadline = "4h"
escalate_to = ["human:me"]
# Not acked within the hour: tell human:me; still not acked an hour later: the
# backup agent takes it. A missed update or deadline notifies human:me once.
escalation = [
  { on = "ack_timeout", notify = ["human:me"] },
  { after = "1h", notify = ["human:me"], action = "reassign", to = "backup_agent" },
]
payload.required = ["email_id", "customer", "issue"]
payload.properties.customer = { type = "string", format = "email" }
on_complete.kind = "customer_reply"
on_complete.to = "inbox_monitor"
on_complete.payload = { customer = "$payload.customer", reply = "$result.reply" }
# Declined: back to the sender (inbox_monitor) to find another owner.
on_decline.kind = "triage"
on_decline.payload.email_id = "$payload.email_id"
on_decline.payload.customer = "$payload.customer"
on_decline.payload.issue = "$payload.issue"
on_decline.payload.declined_because = "$reason"

[kinds.triage]
trigger = "A bug report was declined: find another owner"
ack_within = "30m"
escalate_to = ["human:me"]
payload.required = ["email_id", "issue"]

[kinds.customer_reply]
trigger = "Investigation finished: reply to the customer"
to = "inbox_monitor"
ack_within = "30m"
escalate_to = ["human:me"]
payload.required = ["customer", "reply"]
on_complete.kind = "final_review"
on_complete.to = "support_agent"
on_complete.payload = { reply = "$payload.reply" }

[kinds.final_review]
trigger = "Customer-ready reply needs a final review"
to = "support_agent"
ack_within = "1h"
escalate_to = ["human:me"]
"""
