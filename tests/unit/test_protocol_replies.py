"""Reply grammar on bytes alone: encoding (multi-line too) and the incremental parser."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioftp_lite.protocol.replies import Code, Reply, ReplyParseError, ReplyParser


def test_single_line_encode() -> None:
    assert Reply(Code.OK, "NOOP ok").encode() == b"200 NOOP ok\r\n"
    assert Reply(Code.SERVICE_READY).encode() == b"220 \r\n"


def test_multi_line_encode_indents_inner_lines() -> None:
    reply = Reply(Code.SYSTEM_STATUS, "Features:\nUTF8\nMLST type*;size*;\nEnd")
    assert reply.encode() == b"211-Features:\r\n UTF8\r\n MLST type*;size*;\r\n211 End\r\n"


def test_two_line_reply_has_no_inner_lines() -> None:
    assert Reply(Code.HELP, "first\nlast").encode() == b"214-first\r\n214 last\r\n"


def test_utf8_text_is_encoded_as_utf8() -> None:
    assert Reply(Code.PATH_CREATED, '"/Über" created').encode() == '257 "/Über" created\r\n'.encode()


def test_reply_properties() -> None:
    assert Reply(150, "x").is_preliminary and Reply(150, "x").is_positive
    assert Reply(331, "x").is_positive and not Reply(331, "x").is_preliminary
    assert not Reply(550, "x").is_positive
    assert Reply(211, "a\nb").lines == ["a", "b"]
    assert str(Reply(200, "ok")) == "200 ok"


def test_parser_reads_single_and_multi_line_replies_in_one_feed() -> None:
    wire = b"220 hello\r\n211-Features:\r\n UTF8\r\n211 End\r\n226 done\r\n"
    assert ReplyParser().feed(wire) == [
        Reply(220, "hello"),
        Reply(211, "Features:\nUTF8\nEnd"),
        Reply(226, "done"),
    ]


def test_parser_accepts_bare_lf() -> None:
    assert ReplyParser().feed(b"230-Welcome\n to here\n230 ok\n") == [Reply(230, "Welcome\nto here\nok")]


def test_parser_keeps_partial_line_until_it_is_complete() -> None:
    parser = ReplyParser()
    assert parser.feed(b"200 hal") == []
    assert parser.feed(b"f\r") == []
    assert parser.feed(b"\n") == [Reply(200, "half")]


def test_inner_lines_starting_with_digits_or_another_code_do_not_end_the_reply() -> None:
    # Such lines come from servers that do not indent inner lines (RFC 959 4.2 allows it).
    wire = (
        b"211-Status of server:\r\n"
        b"123 is a number, not an end\r\n"
        b"211-still inside\r\n"
        b"2110 not the end either\r\n"
        b"550 neither is this\r\n"
        b"211 End of status\r\n"
    )
    assert ReplyParser().feed(wire) == [
        Reply(
            211,
            "Status of server:\n123 is a number, not an end\n211-still inside\n"
            "2110 not the end either\n550 neither is this\nEnd of status",
        )
    ]


def test_closing_line_with_code_only() -> None:
    assert ReplyParser().feed(b"211-a\r\n b\r\n211\r\n") == [Reply(211, "a\nb\n")]


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello world\r\n",
        b"12 short\r\n",
        b"2000 four digits\r\n",
        b"200x no separator\r\n",
        b"\r\n",
        b" 200 indented\r\n",
        b"abc def\r\n",
    ],
)
def test_garbage_raises_reply_parse_error(garbage: bytes) -> None:
    with pytest.raises(ReplyParseError):
        ReplyParser().feed(garbage)


def test_over_long_line_without_end_raises() -> None:
    parser = ReplyParser(max_line=100)
    parser.feed(b"200 " + b"x" * 90)
    with pytest.raises(ReplyParseError):
        parser.feed(b"x" * 20)


def test_over_long_line_raises_even_when_it_arrives_whole() -> None:
    # Same outcome whatever the split: the limit is on the line, not on one read.
    with pytest.raises(ReplyParseError):
        ReplyParser(max_line=100).feed(b"200 " + b"x" * 200 + b"\r\n")


def test_line_at_the_limit_is_accepted() -> None:
    line = b"200 " + b"x" * 96 + b"\r\n"  # 100 bytes before the line break
    assert ReplyParser(max_line=100).feed(line) == [Reply(200, "x" * 96)]


def test_non_utf8_reply_bytes_round_trip() -> None:
    [reply] = ReplyParser().feed(b"550 caf\xe9: no\r\n")
    assert reply.encode() == b"550 caf\xe9: no\r\n"


# Replies as a server would send them: any code, text lines free of line breaks.
_line = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)
_reply = st.builds(
    lambda code, lines: Reply(code, "\n".join(lines)),
    st.integers(100, 599),
    st.lists(_line, min_size=1, max_size=5),
)


@given(replies=st.lists(_reply, min_size=1, max_size=6), data=st.data())
def test_any_split_of_the_stream_yields_the_same_replies(replies: list[Reply], data: st.DataObject) -> None:
    wire = b"".join(reply.encode() for reply in replies)
    whole = ReplyParser().feed(wire)
    assert whole == replies  # encode and parse are inverses

    byte_by_byte = ReplyParser()
    one_at_a_time = [r for index in range(len(wire)) for r in byte_by_byte.feed(wire[index : index + 1])]
    assert one_at_a_time == replies

    cuts = sorted(data.draw(st.sets(st.integers(0, len(wire)), max_size=12), label="cuts"))
    bounds = [0, *cuts, len(wire)]
    split = ReplyParser()
    in_pieces = [r for start, end in itertools.pairwise(bounds) for r in split.feed(wire[start:end])]
    assert in_pieces == replies


def _feed_in_pieces(parser: ReplyParser, wire: bytes, cuts: set[int]) -> list[Reply]:
    bounds = [0, *sorted(cuts), len(wire)]
    return [r for start, end in itertools.pairwise(bounds) for r in parser.feed(wire[start:end])]


@given(extra=st.integers(0, 1), ending=st.sampled_from([b"\r\n", b"\n"]), data=st.data())
def test_line_limit_outcome_does_not_depend_on_the_split(
    extra: int, ending: bytes, data: st.DataObject
) -> None:
    limit = 40
    wire = b"200 " + b"y" * (limit - 4 + extra) + ending  # exactly at the limit, or one byte over
    cuts = data.draw(st.sets(st.integers(0, len(wire)), max_size=6), label="cuts")
    if extra:
        with pytest.raises(ReplyParseError):
            _feed_in_pieces(ReplyParser(max_line=limit), wire, cuts)
    else:
        assert _feed_in_pieces(ReplyParser(max_line=limit), wire, cuts) == [Reply(200, "y" * (limit - 4))]


def test_a_multi_line_reply_that_never_ends_is_bounded() -> None:
    parser = ReplyParser(max_reply=10_000)
    parser.feed(b"211-start\r\n")
    with pytest.raises(ReplyParseError, match="multi-line reply longer"):
        for _ in range(1_000):
            parser.feed(b" another inner line of the reply\r\n")


def test_a_long_multi_line_reply_under_the_bound_parses() -> None:
    parser = ReplyParser(max_reply=100_000)
    body = b"".join(b" line %d\r\n" % n for n in range(2_000))
    [reply] = parser.feed(b"213-Status:\r\n" + body + b"213 End\r\n")
    assert len(reply.lines) == 2_002
