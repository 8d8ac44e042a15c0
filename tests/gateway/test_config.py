"""Settings from the environment, with the defaults the runbook promises."""

from __future__ import annotations

import os

import pytest

from signaling_gateway.config import ConfigError, MediaEndpoint, Settings


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert (s.media_udp_port, s.media_control_port, s.media_public_ip) == (7882, 7881, "127.0.0.1")
    assert s.spawn_media_server is True
    assert s.media_endpoints[0] == MediaEndpoint("127.0.0.1", 7881)
    assert s.media_workers == len(os.sched_getaffinity(0))  # one media server per core it may use
    assert s.host_username == "host"
    assert s.host_password_generated is True and len(s.host_password) >= 12
    assert len(s.secret_key) >= 32
    assert s.public_url is None


@pytest.mark.parametrize(("raw", "codecs"), [("", ("VP8", "H264")), ("h264, vp8", ("H264", "VP8")), ("VP8", ("VP8",))])
def test_the_video_codec_preference(raw: str, codecs: tuple[str, ...]) -> None:
    assert Settings.from_env({"VIDEO_CODECS": raw}).video_codecs == codecs


def test_two_processes_get_different_generated_secrets() -> None:
    a, b = Settings.from_env({}), Settings.from_env({})
    assert a.secret_key != b.secret_key and a.host_password != b.host_password


def test_everything_set() -> None:
    s = Settings.from_env(
        {
            "HTTP_HOST": "0.0.0.0",
            "HTTP_PORT": "9000",
            "MEDIA_SERVER_URL": "tcp://10.0.0.5:7999",
            "PUBLIC_URL": "https://meet.example.com",
            "SECRET_KEY": "a-long-enough-secret-for-hmac",
            "HOST_USERNAME": "oleh",
            "HOST_PASSWORD": "pw",
        }
    )
    assert (s.http_host, s.http_port) == ("0.0.0.0", 9000)
    assert s.spawn_media_server is False
    assert s.media_endpoints == (MediaEndpoint("10.0.0.5", 7999),)
    assert s.absolute("/room/x") == "https://meet.example.com/room/x"
    assert s.secret_key == b"a-long-enough-secret-for-hmac"
    assert (s.host_username, s.host_password, s.host_password_generated) == ("oleh", "pw", False)


@pytest.mark.parametrize(
    "env",
    [
        {"HTTP_PORT": "eighty"},
        {"MEDIA_CONTROL_PORT": "70000"},
        {"MEDIA_SERVER_URL": "http://127.0.0.1:7881"},
        {"MEDIA_SERVER_URL": "tcp://127.0.0.1"},
        {"PUBLIC_URL": "meet.example.com"},
        {"WEB_ROOT": "/nonexistent"},
        {"VIDEO_CODECS": "VP9"},
        {"VIDEO_CODECS": "VP8,VP8"},
    ],
)
def test_bad_values_fail_at_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_secrets_stay_out_of_repr() -> None:
    s = Settings.from_env({"HOST_PASSWORD": "hunter2", "SECRET_KEY": "s3cr3t-s3cr3t-s3cr3t"})
    assert "hunter2" not in repr(s) and "s3cr3t" not in repr(s)


def test_media_workers_each_take_the_next_ports() -> None:
    s = Settings.from_env({"MEDIA_WORKERS": "3", "MEDIA_CONTROL_PORT": "9001"})
    assert s.media_endpoints == tuple(MediaEndpoint("127.0.0.1", port) for port in (9001, 9002, 9003))


def test_several_media_servers_by_url() -> None:
    s = Settings.from_env({"MEDIA_SERVER_URL": "tcp://10.0.0.5:7881, tcp://10.0.0.6:7881"})
    assert s.media_endpoints == (MediaEndpoint("10.0.0.5", 7881), MediaEndpoint("10.0.0.6", 7881))


@pytest.mark.parametrize(("env", "message"), [
    ({"MEDIA_WORKERS": "0"}, "MEDIA_WORKERS must be between 1 and 64"),
    ({"MEDIA_WORKERS": "two"}, "MEDIA_WORKERS must be a number of processes"),
    ({"MEDIA_SERVER_URL": "tcp://a:1,tcp://a:1"}, "names a media server twice"),
    ({"MEDIA_SERVER_URL": " , "}, "lists no tcp://host:port"),
    ({"MEDIA_SERVER_URL": "tcp://a:1,udp://b:2"}, "must look like tcp://host:port"),
    ({"MEDIA_SERVER_URL": "redis"}, "MEDIA_SERVER_URL=redis finds media servers in Redis: set REDIS_URL too"),
])  # fmt: skip
def test_bad_media_settings_are_refused_with_the_reason(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_media_servers_from_the_registry() -> None:
    s = Settings.from_env({"MEDIA_SERVER_URL": "redis", "REDIS_URL": "redis://127.0.0.1:6379/0",
                           "SECRET_KEY": "s" * 32})
    assert s.media_from_registry and not s.spawn_media_server and s.media_endpoints == ()
