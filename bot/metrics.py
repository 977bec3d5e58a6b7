"""Prometheus metrics for one bot process, served at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds: a streamed answer's first words usually come in one to five, the whole in ten-plus.
_LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89)


class Metrics:
    """The process's counters; its own registry, so several bots can share a process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "vision_bot_turns",
            "Requests handled, by action (answer, redo, forget) and outcome",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.first_words = Histogram(
            "vision_bot_first_words_seconds",
            "From taking a turn off the queue to Claude's first words in the thread",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answer = Histogram(
            "vision_bot_answer_seconds",
            "From taking a turn off the queue to its finished answer",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "vision_bot_claude_tokens",
            "Claude tokens by kind (input, cache_read, cache_write, output)",
            ["kind"],
            registry=self.registry,
        )
        # By template only: people and channels would make a series each (see /vision usage).
        self.cost = Counter(
            "vision_bot_cost_usd",
            "What Claude's answers cost in USD (list prices or CLAUDE_PRICES), by template",
            ["template"],
            registry=self.registry,
        )
        self.files = Counter(
            "vision_bot_files",
            "Shared files, by result (sent, refused)",
            ["result"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "vision_bot_feedback",
            "Feedback buttons clicked under answers, by template and verdict (positive, negative)",
            ["template", "verdict"],
            registry=self.registry,
        )
        self.slack_rate_limited = Counter(
            "vision_bot_slack_rate_limited",
            "app_rate_limited notices: Slack dropped events over 30,000 an hour in a workspace",
            registry=self.registry,
        )
        self.unreadable_turns = Counter(
            "vision_bot_unreadable_turns",
            "Queue entries this version could not read (garbage, or a newer version's), dropped",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "vision_bot_turns_in_flight",
            "Turns this process holds now: answering, or waiting for their thread's earlier turn",
            registry=self.registry,
        )
