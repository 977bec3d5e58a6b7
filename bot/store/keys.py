"""Every Redis key the bot writes, with its prefix and lifetime, in one place."""

from __future__ import annotations

from bot.models import ThreadRef

PREFIX = "vb"

# Slack retries a delivery for up to ~5 minutes and sends mentions twice; a day covers both
# with room for a queue backlog.
SEEN_TTL_SECONDS = 24 * 3600

STREAM = f"{PREFIX}:turns"
GROUP = f"{PREFIX}:workers"
# Bound the stream: entries are acknowledged in seconds, this is only a safety net.
STREAM_MAXLEN = 100_000


def thread_tag(thread: ThreadRef) -> str:
    """A Redis Cluster hash tag, so one thread's keys live in one slot."""
    return f"{{{thread.team_id}:{thread.channel_id}:{thread.thread_ts}}}"


def turns(thread: ThreadRef) -> str:
    """List of the thread's turns, oldest first, as JSON."""
    return turns_by_tag(thread_tag(thread))


def turns_by_tag(tag: str) -> str:
    """The turns key of the thread with this hash tag."""
    return f"{PREFIX}:thread:{tag}:turns"


def meta(thread: ThreadRef) -> str:
    """Hash of the thread's state: engaged, seeded, ticket counters, enqueue leases, how many
    waiting files were dropped (`pending_dropped`)."""
    return f"{PREFIX}:thread:{thread_tag(thread)}:meta"


# Files posted without a question wait for the thread's next one, the newest this many: what
# one request carries (bot.claude.request.MAX_IMAGES images). Older ones are dropped and
# counted in the thread's meta (`pending_dropped`), so the next answer can say so.
PENDING_MAX_FILES = 20


def pending(thread: ThreadRef) -> str:
    """List of files posted in the thread without a question, for its next one (JSON), the
    newest PENDING_MAX_FILES."""
    return f"{PREFIX}:thread:{thread_tag(thread)}:pending"


def lock(thread: ThreadRef) -> str:
    """The cross-process lock held while one of the thread's turns is answered."""
    return f"{PREFIX}:thread:{thread_tag(thread)}:lock"


def thread_keys(thread: ThreadRef) -> tuple[str, ...]:
    """Keys whose lifetime is the thread's history TTL."""
    return (turns(thread), meta(thread), pending(thread))


def seen(thread: ThreadRef, request_key: str) -> str:
    """Marks a request as accepted, so duplicates and retries are dropped."""
    # Under the thread's tag, so marking it and taking the turn's ticket is one atomic
    # step on Redis Cluster too.
    return f"{PREFIX}:thread:{thread_tag(thread)}:seen:{request_key}"


def upload(team_id: str, sha256: str) -> str:
    """Files API metadata for bytes already uploaded in this workspace."""
    return f"{PREFIX}:upload:{{{team_id}:{sha256}}}"


def upload_lock(team_id: str, sha256: str) -> str:
    """Held while those bytes are being uploaded, so two shares don't upload twice."""
    return f"{PREFIX}:upload:{{{team_id}:{sha256}}}:lock"


def upload_threads(team_id: str, sha256: str) -> str:
    """Set of thread tags whose history refers to these uploaded bytes."""
    return f"{PREFIX}:upload:{{{team_id}:{sha256}}}:threads"


def channel(team_id: str, channel_id: str) -> str:
    """Hash of a channel's settings: default template, auto mode, daily limit (µ$), off.
    Kept until changed."""
    return f"{PREFIX}:channel:{team_id}:{channel_id}"


def off_note(thread: ThreadRef) -> str:
    """Marks a thread told that the bot is off in its channel, so it is told once."""
    return f"{PREFIX}:thread:{thread_tag(thread)}:offnote"


# Spend: every key of one workspace shares its hash tag, so checking the limits and reserving
# (and settling an answer's cost) are one script, on Redis Cluster too. Amounts are integer
# millionths of a dollar.
# A day's counters are kept for a month, a month's for the month after it.
SPEND_DAY_TTL_SECONDS = 32 * 86400
SPEND_MONTH_TTL_SECONDS = 62 * 86400
# A reservation left by a process that died before settling it stops counting after this
# long; answers take seconds to minutes.
HOLD_TTL_SECONDS = 15 * 60


def spend_tag(team_id: str) -> str:
    """The hash tag of a workspace's spend keys."""
    return f"{{{team_id}}}"


def spend(team_id: str, period: str) -> str:
    """Hash of a workspace's totals for a UTC day (YYYY-MM-DD) or month (YYYY-MM): `cost`
    (µ$), `answers` and tokens by kind."""
    return f"{PREFIX}:spend:{spend_tag(team_id)}:{period}"


def spend_ranking(team_id: str, period: str, by: str) -> str:
    """Sorted set of cost (µ$) per channel, person or template (`by`) over the period."""
    return f"{PREFIX}:spend:{spend_tag(team_id)}:{period}:{by}"


def spend_person(team_id: str, period: str, user_id: str) -> str:
    """Hash of one person's use over the period, fields `{template}:{cost|answers|kind}`."""
    return f"{PREFIX}:spend:{spend_tag(team_id)}:{period}:person:{user_id}"


def spend_holds(team_id: str) -> str:
    """Hash of the reservations of answers still running: id → amount, person, channel,
    expiry."""
    return f"{PREFIX}:spend:{spend_tag(team_id)}:holds"


def spend_warned(team_id: str, period: str, percent: int) -> str:
    """Marks that the admins were told the workspace passed `percent`% of a period's limit."""
    return f"{PREFIX}:spend:{spend_tag(team_id)}:{period}:warned:{percent}"


# Settings changes are kept this long.
AUDIT_TTL_SECONDS = 90 * 86400
AUDIT_MAX_ENTRIES = 10_000  # a bound on the log's size, far above what 90 days normally hold


def audit(team_id: str) -> str:
    """Sorted set of a workspace's settings changes (JSON), scored by time (ms)."""
    return f"{PREFIX}:audit:{team_id}"


def question_rate(team_id: str, user_id: str) -> str:
    """Sorted set of a person's recent questions (request key, scored by time in ms)."""
    return f"{PREFIX}:rate:{{{team_id}:{user_id}}}"


def rate_warned(team_id: str, user_id: str) -> str:
    """Marks that a person was told to slow down, so the note comes once a minute at most."""
    return f"{PREFIX}:rate:{{{team_id}:{user_id}}}:warned"


# A question queued or being answered stops counting towards its asker's cap after this long
# even if nobody released it (its process died): answers take seconds to minutes.
WAITING_STALE_SECONDS = 15 * 60
# Slack retries a delivery for about 5 minutes: the cap's note is sent once per question.
WAITING_TOLD_TTL_SECONDS = 3600


def waiting(team_id: str, user_id: str) -> str:
    """Sorted set of a person's questions queued or being answered, scored by time (ms)."""
    return f"{PREFIX}:waiting:{{{team_id}:{user_id}}}"


def waiting_told(team_id: str, user_id: str, request_key: str) -> str:
    """Marks that a person was told a question of theirs was over their cap, so once."""
    return f"{PREFIX}:waiting:{{{team_id}:{user_id}}}:told:{request_key}"


def inline_media(team_id: str, sha256: str) -> str:
    """Prepared bytes (base64) kept for the base64 transport, so follow-ups never re-download."""
    return f"{PREFIX}:media:{{{team_id}:{sha256}}}"


# What a person is looking at in Slack (from the agent messaging experience's app context):
# fresh while they move around, so a stale one soon stops counting.
VIEWING_TTL_SECONDS = 2 * 3600


def viewing(team_id: str, user_id: str) -> str:
    """The channel a person was last seen viewing, as app_context_changed reported it."""
    return f"{PREFIX}:viewing:{team_id}:{user_id}"


# Feedback counters outlive the 30 days the admin views report on, like usage.
FEEDBACK_TTL_SECONDS = 32 * 86400


def feedback(team_id: str, day: str) -> str:
    """Hash of one workspace's feedback for one UTC day, fields `{template}:{verdict}`."""
    return f"{PREFIX}:feedback:{team_id}:{day}"


def feedback_vote(team_id: str, channel_id: str, message_ts: str, user_id: str) -> str:
    """One person's verdict on one answer (`{verdict}|{day}`), so a vote counts once."""
    return f"{PREFIX}:feedback:{team_id}:vote:{channel_id}:{message_ts}:{user_id}"
