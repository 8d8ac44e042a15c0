"""REDIS_URL: parsed by Settings, and it alone decides which store create_app builds."""

from __future__ import annotations

import pytest

from signaling_gateway.app import store_for
from signaling_gateway.config import ConfigError, Settings
from signaling_gateway.store import MemoryStore, RedisStore


def test_without_redis_url_the_store_is_in_memory() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None
    assert isinstance(store_for(settings), MemoryStore)
    assert isinstance(store_for(Settings.from_env({"REDIS_URL": "  "})), MemoryStore)


async def test_redis_url_selects_redis_and_stays_out_of_reprs() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://:s3cret@redis.internal:6380/2", "SECRET_KEY": "k" * 32})
    assert settings.redis_url == "redis://:s3cret@redis.internal:6380/2"
    assert "s3cret" not in repr(settings)
    store = store_for(settings)
    try:
        assert isinstance(store, RedisStore)
        assert store.client.connection_pool.connection_kwargs["port"] == 6380
        assert store.client.connection_pool.connection_kwargs["db"] == 2
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["http://redis:6379", "localhost:6379", "tcp://127.0.0.1:6379"])
def test_a_redis_url_that_is_not_one_fails_at_start(url: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings.from_env({"REDIS_URL": url})


def test_redis_url_without_secret_key_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"})
