"""How an answer ended, as the answer loop hands it to its reply and logs it (the ``usage`` line's
``status``, which operators and tests read). A light module: the replies import it too."""
from __future__ import annotations

import enum

from threadwise.slack.reply_format import STATUS_DONE, STATUS_ERROR, STATUS_STOPPED


class AnswerStatus(str, enum.Enum):
    # The same words as the final reply's metadata ``status`` (a contract): the reply writes them there.
    DONE = STATUS_DONE  # the model's answer, whole (perhaps with a notice under it)
    ERROR = STATUS_ERROR  # an error marker instead of (or after) the answer
    STOPPED = STATUS_STOPPED  # Stop, Delete, a newer question or a lost lease ended it (logged only)

    def __str__(self) -> str:
        return self.value
