"""The one masking helper: no password of any URL survives in text the project writes."""

import base64

import pytest
import requests

from fashion_mnist.secrets import mask_url, split_userinfo


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://alice:s3cr3tpw@127.0.0.1:5000", "http://alice:***@127.0.0.1:5000"),
        (
            "API request to https://alice:s3cr3tpw@host/api/2.0/x failed",
            "API request to https://alice:***@host/api/2.0/x failed",
        ),
        (
            "postgresql+psycopg://u:p%40ss@db:5432/optuna and sqlite:///optuna.db",
            "postgresql+psycopg://u:***@db:5432/optuna and sqlite:///optuna.db",
        ),
        # An unescaped "@" in the password: urllib and requests split at the last one.
        ("'http://alice:p@ss@host:1/x'", "'http://alice:***@host:1/x'"),
        ("http://host:5000/#/runs?a=b@c", "http://host:5000/#/runs?a=b@c"),
        ("https://token@host/", "https://token@host/"),
        ("no URL at all: user:pw@host", "no URL at all: user:pw@host"),
    ],
)
def test_mask_url_hides_every_password_and_keeps_the_rest(text, masked):
    assert mask_url(text) == masked


def test_split_userinfo_gives_the_header_requests_sends_for_the_same_url():
    url = "http://alice:s3cr%40pw@127.0.0.1:5000/health"

    bare, header = split_userinfo(url)
    sent = requests.Request("GET", url).prepare().headers["Authorization"]

    assert bare == "http://127.0.0.1:5000/health"
    assert header == sent
    assert base64.b64decode(header.removeprefix("Basic ")) == b"alice:s3cr@pw"
    assert split_userinfo("http://127.0.0.1:5000") == ("http://127.0.0.1:5000", None)
