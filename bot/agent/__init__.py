"""Slack's AI surfaces: the Messages tab, suggested prompts, what people view, status, feedback."""
