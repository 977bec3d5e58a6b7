"""The Slack side: downloading files, reading threads, writing answers, Block Kit."""
