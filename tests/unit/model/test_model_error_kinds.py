"""What went wrong with the model is a typed kind (the responder branches on it), logged as its word."""
from threadwise.model.errors import ModelError, ModelErrorKind, timeout_error


def test_a_kind_is_typed_and_reads_as_its_word():
    error = timeout_error(5)
    assert error.kind is ModelErrorKind.FIRST_TOKEN_TIMEOUT
    assert (str(error), f"{error.kind}") == ("first_token_timeout", "first_token_timeout")
    assert "5 seconds" in error.sentence


def test_the_kind_the_responder_retries_on_keeps_its_word():
    error = ModelError(ModelErrorKind.CONTEXT_LENGTH_EXCEEDED, "too long")
    assert error.kind == "context_length_exceeded" and str(error) == "context_length_exceeded"
