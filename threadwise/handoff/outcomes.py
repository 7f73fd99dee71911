"""How a job ended, as the dispatchers and the worker's HTTP answer read it (a light module: the
entry point maps outcomes to Pub/Sub's status codes without loading the answer loop)."""
from __future__ import annotations

import enum


class JobOutcome(str, enum.Enum):
    ANSWERED = "answered"  # the final text is in Slack, or the reply is gone: done
    DUPLICATE = "duplicate"  # done before
    BUSY = "busy"  # another worker holds the claim: deliver again later
    QUIET = "quiet"  # not the bot's to answer
    DELIVERING = "delivering"  # written; a delivery job brings its final text
    HANDED_OFF = "handed_off"  # Slack refused the final text until the deadline: it went on in a delivery job
    HANDED_BACK = "handed_back"  # a delivery job whose text Slack still refused: deliver it again later
    REDELIVER = "redeliver"  # the final text could not be handed on: deliver the question again
    UNLANDED = "unlanded"  # Slack refused the final text for good (logged as an error); not done
    TAKEN_OVER = "taken_over"  # the lease was lost: another worker owns the answer now

    def __str__(self) -> str:
        return self.value
