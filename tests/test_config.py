"""Configuration: every setting validated at start, errors that name the setting and the fix."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from genesys_stream import config as config_module
from genesys_stream.config import (
    SETTINGS,
    Config,
    ConfigError,
    add_arguments,
    load,
    settings_table,
)
from handlers.lifecycle import CONVERSATION_ENDED, CONVERSATION_STARTED, LIFECYCLE_EVENT_TYPES

QUEUE_ID = "0e185c02-aca1-4a72-82ea-2e78684e2c89"
USER_ID = "5151853c-ca28-48da-bdcd-f15c46f0712e"
ORG = {
    "GENESYS_REGION": "eu-west-1",
    "GENESYS_CLIENT_ID": "client-1",
    "GENESYS_CLIENT_SECRET": "s3cr3t-value",
    "GENESYS_QUEUE_IDS": QUEUE_ID,
}
AWS = {
    "STREAM_TABLE_NAME": "conversations",
    "STREAM_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/events.fifo",
}


def error_for(environ: dict[str, str], flags: dict[str, str | None] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(environ, flags)
    return str(caught.value)


def test_empty_environment_runs_locally() -> None:
    config = load({})

    assert config == Config()
    assert config.uses_simulator
    assert not config.uses_aws
    assert config.topic_names() == ()


def test_defaults_match_settings() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Config)}

    for setting in SETTINGS:
        assert defaults[setting.name] == setting.default, setting.name


def test_every_setting_has_one_flag() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = {action.dest: action.option_strings for action in parser._actions}

    assert {field.name for field in dataclasses.fields(Config)} == {s.name for s in SETTINGS}
    for setting in SETTINGS:
        assert flags[setting.name] == [setting.flag]
    assert len({setting.env for setting in SETTINGS}) == len(SETTINGS)


def test_org_with_aws() -> None:
    config = load({**ORG, **AWS, "AWS_REGION": "eu-west-1"})

    assert not config.uses_simulator
    assert config.uses_aws
    assert config.topic_names() == (f"v2.routing.queues.{QUEUE_ID}.conversations",)
    assert config.aws_region == "eu-west-1"


@pytest.mark.parametrize("region", ["eu-west-1", "mypurecloud.ie", "EU-WEST-1"])
def test_region_by_name_or_domain(region: str) -> None:
    config = load({**ORG, "GENESYS_REGION": region})

    assert not config.uses_simulator


def test_unknown_region_lists_valid_ones() -> None:
    message = error_for({**ORG, "GENESYS_REGION": "eu-west-9"})

    assert message.startswith("GENESYS_REGION='eu-west-9' is invalid.")
    assert "eu-west-1 (mypurecloud.ie)" in message
    assert "ap-northeast-3 (apne3.pure.cloud)" in message


def test_flag_overrides_environment() -> None:
    environ = {"STREAM_FORWARD_EVENTS": CONVERSATION_STARTED, "STREAM_MERGE_SHARDS": "2"}

    config = load(environ, {"forward_events": CONVERSATION_ENDED, "merge_shards": None})

    assert config.forward_events == frozenset({CONVERSATION_ENDED})
    assert config.merge_shards == 2


def test_error_names_the_flag_given() -> None:
    message = error_for({"STREAM_MERGE_SHARDS": "2"}, {"merge_shards": "0"})

    assert message == "--merge-shards='0' is invalid. Use a whole number from 1 to 64."


def test_empty_value_counts_as_unset() -> None:
    config = load({"GENESYS_REGION": "", "STREAM_TABLE_NAME": " ", "STREAM_MERGE_SHARDS": ""})

    assert config == Config()


@pytest.mark.parametrize(
    ("variable", "value", "form"),
    [
        ("STREAM_MERGE_SHARDS", "four", "Use a whole number from 1 to 64."),
        ("STREAM_MERGE_SHARDS", "65", "Use a whole number from 1 to 64."),
        ("STREAM_FLUSH_INTERVAL", "0", "Use a number of seconds from 0.01 to 60."),
        ("STREAM_FLUSH_INTERVAL", "1s", "Use a number of seconds from 0.01 to 60."),
        ("STREAM_STATE_TTL_DAYS", "1.5", "Use a whole number from 1 to 3650."),
        ("STREAM_BACKFILL_LOOKBACK", "-1", "Use a number of seconds from 0 to 604800."),
        ("STREAM_HEARTBEAT_SILENCE", "0.5", "Use a number of seconds from 1 to 600."),
        ("STREAM_PONG_TIMEOUT", "121", "Use a number of seconds from 1 to 120."),
        ("STREAM_DEAD_BUDGET", "nan", "Use a number of seconds from 1 to 3600."),
        ("STREAM_LOG_LEVEL", "verbose", "Use DEBUG, INFO, WARNING or ERROR."),
        ("GENESYS_API_URL", "api.mypurecloud.ie", "Use an http:// or https:// URL"),
        ("GENESYS_LOGIN_URL", "ftp://login", "Use an http:// or https:// URL"),
        ("STREAM_QUEUE_URL", "events.fifo", "Use an http:// or https:// URL"),
        ("STREAM_TABLE_NAME", "ab", "Use a DynamoDB table name"),
        ("STREAM_CONTROL_TABLE_NAME", "control table", "Use a DynamoDB table name"),
        ("STREAM_PAYLOAD_BUCKET", "Payloads", "Use an S3 bucket name"),
        ("AWS_REGION", "Ireland", "Use an AWS region name such as eu-west-1."),
        ("GENESYS_QUEUE_IDS", f"{QUEUE_ID}, {QUEUE_ID}", "write a comma list with no spaces"),
        ("GENESYS_QUEUE_IDS", "queue/1", "is not a valid queue id"),
        ("GENESYS_USER_IDS", f"{USER_ID},", "is not a valid user id"),
        ("GENESYS_TOPICS", "v2.users.u1.presence", "Invalid topic 'v2.users.u1.presence'"),
        ("GENESYS_TOPICS", "v2.routing.queues.q1.conversations,  ", "Invalid topic '  '"),
    ],
)
def test_invalid_value_named_with_form(variable: str, value: str, form: str) -> None:
    message = error_for({variable: value})

    assert message.startswith(f"{variable}={value!r} is invalid. ")
    assert form in message


@pytest.mark.parametrize(
    "value",
    [
        "",
        "conversation.started, conversation.ended",
        "conversation.started,conversation.finished",
        "conversation.started,",
        "Conversation.Started",
    ],
)
def test_bad_forward_filter_is_an_error(value: str) -> None:
    message = error_for({"STREAM_FORWARD_EVENTS": value})

    assert message.startswith(f"STREAM_FORWARD_EVENTS={value!r} is invalid. ")
    assert "conversation.started, conversation.updated, conversation.ended" in message


def test_forward_filter_selects_types() -> None:
    config = load({"STREAM_FORWARD_EVENTS": "conversation.started,conversation.ended"})

    assert config.forward_events == frozenset({CONVERSATION_STARTED, CONVERSATION_ENDED})
    assert load({}).forward_events == LIFECYCLE_EVENT_TYPES


def test_forward_filter_uses_lifecycle_parser() -> None:
    setting = next(s for s in SETTINGS if s.name == "forward_events")

    assert setting.parse is config_module._forward_events


def test_secret_never_echoed() -> None:
    message = error_for({**ORG, "GENESYS_CLIENT_SECRET": "s3cr3t-value\n"})

    assert message.startswith("GENESYS_CLIENT_SECRET=(hidden) is invalid. ")
    assert "s3cr3t" not in message


def test_secret_hidden_from_repr() -> None:
    config = load(ORG)

    assert "s3cr3t" not in repr(config)


@pytest.mark.parametrize("missing", ["GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET"])
def test_org_needs_credentials(missing: str) -> None:
    environ = {name: value for name, value in ORG.items() if name != missing}

    message = error_for(environ)

    assert message.startswith(f"{missing} is missing: a Genesys Cloud org is configured")
    assert "s3cr3t" not in message


def test_org_needs_topics() -> None:
    environ = {name: value for name, value in ORG.items() if name != "GENESYS_QUEUE_IDS"}

    message = error_for(environ)

    assert "GENESYS_QUEUE_IDS, GENESYS_USER_IDS or GENESYS_TOPICS" in message


def test_base_urls_without_region_need_both() -> None:
    environ = {name: value for name, value in ORG.items() if name != "GENESYS_REGION"}

    api_only = error_for({**environ, "GENESYS_API_URL": "http://127.0.0.1:8080"})
    login_only = error_for(environ, {"login_url": "http://127.0.0.1:8080"})
    both = load(
        {
            **environ,
            "GENESYS_API_URL": "http://127.0.0.1:8080/",
            "GENESYS_LOGIN_URL": "http://127.0.0.1:8080",
        }
    )

    assert api_only.startswith("GENESYS_LOGIN_URL is missing: GENESYS_API_URL is set")
    assert login_only.startswith("GENESYS_API_URL is missing: --login-url is set")
    assert not both.uses_simulator
    assert both.api_url == "http://127.0.0.1:8080"


def test_queue_without_table_is_an_error() -> None:
    message = error_for({"STREAM_QUEUE_URL": AWS["STREAM_QUEUE_URL"]})

    assert message.startswith("STREAM_TABLE_NAME is missing: STREAM_QUEUE_URL is set")


def test_table_without_queue_is_an_error() -> None:
    message = error_for({}, {"table_name": "conversations"})

    assert message.startswith("STREAM_QUEUE_URL is missing: --table-name is set")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("STREAM_PAYLOAD_BUCKET", "payloads"), ("STREAM_CONTROL_TABLE_NAME", "control")],
)
def test_aws_extras_need_aws(variable: str, value: str) -> None:
    message = error_for({variable: value})

    assert message.startswith(f"{variable} is set but the service writes to the local store")
    assert load({variable: value, **ORG, **AWS, "AWS_REGION": "eu-west-1"}).uses_aws


def test_topics_combined_and_sorted() -> None:
    config = load(
        {
            "GENESYS_TOPICS": f"v2.users.{USER_ID}.conversations.calls,"
            f"v2.routing.queues.{QUEUE_ID}.conversations",
            "GENESYS_QUEUE_IDS": f"{QUEUE_ID},{QUEUE_ID}",
            "GENESYS_USER_IDS": USER_ID,
        }
    )

    assert config.queue_ids == (QUEUE_ID,)
    assert config.topic_names() == (
        f"v2.routing.queues.{QUEUE_ID}.conversations",
        f"v2.users.{USER_ID}.conversations",
        f"v2.users.{USER_ID}.conversations.calls",
    )


def test_readme_lists_every_setting() -> None:
    """The configuration table in README.md is the one ``settings_table`` renders."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()

    assert settings_table() in readme


def test_credentials_without_org_rejected() -> None:
    """Credentials with no region would silently run the simulator instead of the org."""
    message = error_for({"GENESYS_CLIENT_ID": "prod-client", "GENESYS_CLIENT_SECRET": "x-y-z"})

    assert message.startswith("GENESYS_REGION is missing: GENESYS_CLIENT_ID is set")
    assert "x-y-z" not in message


def test_simulator_with_aws_rejected() -> None:
    message = error_for({**AWS, "AWS_REGION": "eu-west-1"})

    assert message.startswith("GENESYS_REGION is missing: simulated conversations")


def test_aws_needs_region() -> None:
    message = error_for({**ORG, **AWS})

    assert message.startswith("AWS_REGION is missing")
    assert load({**ORG, **AWS, "AWS_DEFAULT_REGION": "eu-west-1"}).uses_aws


def test_url_password_rejected_unshown() -> None:
    message = error_for({"GENESYS_LOGIN_URL": "http://user:TopSecret999@127.0.0.1:9"})

    assert message.startswith("GENESYS_LOGIN_URL=(hidden) is invalid")
    assert "TopSecret999" not in message


def test_undecodable_value_rejected() -> None:
    """The environment turns bytes that are not UTF-8 into lone surrogates."""
    message = error_for({**ORG, "GENESYS_CLIENT_SECRET": "abc\udcff"})

    assert message.startswith("GENESYS_CLIENT_SECRET=(hidden) is invalid")
    assert "UTF-8" in message


def test_local_dir_file_rejected(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")

    message = error_for({"STREAM_LOCAL_DIR": str(target)})

    assert message.startswith(f"STREAM_LOCAL_DIR={str(target)!r} is invalid")
