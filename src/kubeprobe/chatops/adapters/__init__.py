"""Chat adapters: each turns a platform's messages, clicks and callbacks into the bot's Inbound and
actions, and posts and edits its replies (Matrix here; Slack, DingTalk and Mattermost beside it)."""
