"""URL parsing and key escaping (no server needed)."""

from __future__ import annotations

import pytest

from agentmem import ConfigurationError, Ref
from agentmem_redis import KeyLayout, escape, parse_url


def test_plain_url_defaults() -> None:
    options = parse_url("redis://localhost")
    assert options.hosts == (("localhost", 6379),)
    assert options.db == 0
    assert options.prefix == "agentmem"
    assert options.max_connections == 50
    assert options.socket_timeout == options.connect_timeout == 5.0
    assert not options.tls
    assert not options.cluster


def test_credentials_db_and_query_options() -> None:
    options = parse_url(
        "rediss://app:s%40cret@h:6380/3?prefix=p1&max_connections=7&pool_timeout=2.5"
        "&ssl_cert_reqs=none&ssl_check_hostname=false"
    )
    assert (options.username, options.password) == ("app", "s@cret")
    assert options.db == 3
    assert options.tls
    assert options.prefix == "p1"
    assert options.max_connections == 7
    assert options.pool_timeout == 2.5
    assert options.ssl_kwargs() == {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
    assert "s@cret" not in options.masked_url()
    assert "***" in options.masked_url()


def test_keyword_arguments_win_over_the_url() -> None:
    assert parse_url("redis://h?prefix=a", prefix="b").prefix == "b"


def test_password_only_userinfo_is_a_password() -> None:
    options = parse_url("redis://secret@h:1")
    assert options.username is None
    assert options.password == "secret"


def test_cluster_url_lists_hosts() -> None:
    options = parse_url("redis+cluster://a:7000,b:7001,[::1]:7002/0")
    assert options.cluster
    assert options.hosts == (("a", 7000), ("b", 7001), ("::1", 7002))


def test_unix_url() -> None:
    options = parse_url("unix:///run/redis.sock?db=2")
    assert options.unix_path == "/run/redis.sock"
    assert options.db == 2


@pytest.mark.parametrize(
    "url",
    [
        "redis://h?bogus=1",
        "redis://h/notanumber",
        "redis://h:notaport",
        "redis://a:1,b:2",
        "redis+cluster://a:1/3",
        "redis://h?max_connections=0",
        "redis://h?prefix=bad%20prefix{x}",
        "unix://",
        "http://h",
        "redis://h?socket_timeout=-1",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    def parse_and_lay_out() -> None:
        KeyLayout(parse_url(url).prefix, 1)

    with pytest.raises(ConfigurationError):
        parse_and_lay_out()


def test_unknown_keyword_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bogus"):
        parse_url("redis://h", bogus=1)


def test_escape_leaves_no_key_or_glob_syntax() -> None:
    for hostile in ["*", "?", "[a]", "a:b", "{t}", "%", "\\", "%2A"]:
        escaped = escape(hostile)
        assert not set(escaped) & set(":{}*?[]\\")
    # escaping is injective on the characters it touches
    assert escape("%2A") != escape("*")


def test_records_with_confusable_addresses_get_distinct_keys() -> None:
    layout = KeyLayout("agentmem", 1)
    a = layout.record_key(Ref("skill", "a:b", "c"))
    b = layout.record_key(Ref("skill", "a", "b:c"))
    assert a != b
    assert layout.record_key(Ref("skill", "ns", "*")).endswith(":%2A")


def test_buckets_spread_records_and_share_a_hash_tag_per_bucket() -> None:
    layout = KeyLayout("agentmem", 16)
    buckets = {layout.bucket_of(Ref("skill", "ns", f"id{i}")) for i in range(200)}
    assert len(buckets) == 16
    key = layout.record_key(Ref("skill", "ns", "x"))
    tag = key[key.index("{") : key.index("}") + 1]
    assert tag == f"{{agentmem:{layout.bucket_of(Ref('skill', 'ns', 'x'))}}}"
