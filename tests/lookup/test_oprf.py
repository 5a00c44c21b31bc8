"""RFC 9497 OPRF(ristretto255, SHA-512), mode 0x00: official vectors, properties, key files."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import rbcl
from hypothesis import given, settings
from hypothesis import strategies as st

from breachwatch.errors import BreachwatchError
from breachwatch.lookup import oprf
from breachwatch.lookup.oprf import OprfError

# --- vectors ------------------------------------------------------------------------------
# RFC 9497 appendix A.1.1 (ristretto255-SHA512, OPRF mode), as published in the CFRG draft the
# RFC came from (facebook/voprf src/tests/cfrg_vectors.rs, "taken from draft-irtf-cfrg-voprf-19")
# and, identically, in stsch9/pyoprf-r255's tests and aldenml/ecc's oprf tests.

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")  # "test key"
SK_SM = bytes.fromhex("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e")
# The HashToGroup DST of the suite, printed as groupDST beside the same vectors.
GROUP_DST_HEX = "48617368546f47726f75702d4f50524656312d002d72697374726574746f3235352d534841353132"


@dataclass(frozen=True)
class Vector:
    input: str
    blind: str
    blinded_element: str
    evaluation_element: str
    output: str


RFC9497_A_1_1 = [
    Vector(
        input="00",
        blind="64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded_element="609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
        evaluation_element="7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
        output="527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
        "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    ),
    Vector(
        input="5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        blind="64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded_element="da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
        evaluation_element="b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
        output="f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
        "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    ),
]

# RFC 9380 appendix K.3, expand_message_xmd(SHA-512), DST QUUX-V01-CS02-with-expander-SHA512-256.
XMD_DST = b"QUUX-V01-CS02-with-expander-SHA512-256"
RFC9380_K_3 = [
    (b"", 0x20, "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"),
    (b"abc", 0x20, "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"),
    (
        b"abcdef0123456789",
        0x20,
        "087e45a86e2939ee8b91100af1583c4938e0f5fc6c9db4b107b83346bc967f58",
    ),
    (
        b"q128_" + b"q" * 128,
        0x20,
        "7336234ee9983902440f6bc35b348352013becd88938d2afec44311caf8356b3",
    ),
    (
        b"a512_" + b"a" * 512,
        0x20,
        "57b5f7e766d5be68a6bfe1768e3c2b7f1228b3e4b3134956dd73a59b954c66f4",
    ),
    (
        b"abc",
        0x80,
        "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11"
        "bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb134"
        "7ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b48843"
        "1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1",
    ),
]


# --- official vectors ---------------------------------------------------------------------


@pytest.mark.parametrize(("msg", "length", "expected"), RFC9380_K_3)
def test_expand_message_xmd_matches_rfc_9380(msg: bytes, length: int, expected: str) -> None:
    assert oprf.expand_message_xmd(msg, XMD_DST, length).hex() == expected


def test_an_oversize_dst_is_replaced_by_its_hash() -> None:
    long_dst = b"D" * 256
    hashed = hashlib.sha512(b"H2C-OVERSIZE-DST-" + long_dst).digest()
    assert oprf.expand_message_xmd(b"abc", long_dst, 200) == oprf.expand_message_xmd(
        b"abc", hashed, 200
    )
    with pytest.raises(ValueError, match="cannot produce"):
        oprf.expand_message_xmd(b"abc", XMD_DST, 255 * 64 + 1)


def _reference_expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 5.3.1 (SHA-512) transcribed step by step, nothing precomputed."""
    if len(dst) > 255:
        dst = hashlib.sha512(b"H2C-OVERSIZE-DST-" + dst).digest()
    ell = (len_in_bytes + 63) // 64
    assert ell <= 255 and len_in_bytes <= 65535
    dst_prime = dst + len(dst).to_bytes(1, "big")
    z_pad = bytes(128)
    l_i_b_str = len_in_bytes.to_bytes(2, "big")
    msg_prime = z_pad + msg + l_i_b_str + (0).to_bytes(1, "big") + dst_prime
    b = [hashlib.sha512(msg_prime).digest()]
    b.append(hashlib.sha512(b[0] + (1).to_bytes(1, "big") + dst_prime).digest())
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b[0], b[i - 1], strict=True))
        b.append(hashlib.sha512(mixed + i.to_bytes(1, "big") + dst_prime).digest())
    return b"".join(b[1:])[:len_in_bytes]


@settings(max_examples=300)
@given(
    msg=st.binary(max_size=300),
    dst=st.one_of(
        st.sampled_from(
            [oprf.HASH_TO_GROUP_DST, oprf.HASH_TO_SCALAR_DST, oprf.DERIVE_KEY_PAIR_DST, XMD_DST]
        ),
        st.binary(max_size=300),  # above 255 bytes: the oversize rule
    ),
    length=st.one_of(st.just(64), st.integers(0, 255 * 64)),
)
def test_expand_message_xmd_equals_a_plain_transcription(
    msg: bytes, dst: bytes, length: int
) -> None:
    assert oprf.expand_message_xmd(msg, dst, length) == _reference_expand_message_xmd(
        msg, dst, length
    )


@settings(max_examples=100)
@given(msg=st.binary(max_size=120))
def test_hash_to_group_and_scalar_use_the_plain_expansion(msg: bytes) -> None:
    uniform = _reference_expand_message_xmd(msg, oprf.HASH_TO_GROUP_DST, 64)
    assert oprf.hash_to_group(msg) == rbcl.crypto_core_ristretto255_from_hash(uniform)
    uniform = _reference_expand_message_xmd(msg, oprf.HASH_TO_SCALAR_DST, 64)
    assert oprf.hash_to_scalar(msg) == rbcl.crypto_core_ristretto255_scalar_reduce(uniform)


def test_context_string_and_group_dst() -> None:
    assert oprf.CONTEXT_STRING == b"OPRFV1-\x00-ristretto255-SHA512"
    assert oprf.HASH_TO_GROUP_DST.hex() == GROUP_DST_HEX


def test_derive_key_pair_gives_the_rfc_key() -> None:
    sk, pk = oprf.derive_key_pair(SEED, KEY_INFO)
    assert sk == SK_SM
    assert pk == rbcl.crypto_scalarmult_ristretto255_base(SK_SM)


@pytest.mark.parametrize("vector", RFC9497_A_1_1, ids=lambda v: f"input={v.input[:8]}")
def test_protocol_steps_match_rfc_9497(vector: Vector) -> None:
    data, fixed_blind = bytes.fromhex(vector.input), bytes.fromhex(vector.blind)
    blind, blinded = oprf.blind(data, fixed_blind)
    assert (blind, blinded.hex()) == (fixed_blind, vector.blinded_element)
    evaluated = oprf.blind_evaluate(SK_SM, blinded)
    assert evaluated.hex() == vector.evaluation_element
    assert oprf.finalize(data, blind, evaluated).hex() == vector.output
    assert oprf.evaluate(SK_SM, data).hex() == vector.output


def test_batches_match_rfc_9497() -> None:
    inputs = [bytes.fromhex(v.input) for v in RFC9497_A_1_1]
    blinded = [bytes.fromhex(v.blinded_element) for v in RFC9497_A_1_1]
    outputs = [o.hex() for o in oprf.evaluate_many(SK_SM, inputs)]
    evaluated = [e.hex() for e in oprf.blind_evaluate_many(SK_SM, blinded)]
    assert outputs == [v.output for v in RFC9497_A_1_1]
    assert evaluated == [v.evaluation_element for v in RFC9497_A_1_1]
    assert oprf.evaluate_many(SK_SM, []) == oprf.blind_evaluate_many(SK_SM, []) == []


# --- properties ---------------------------------------------------------------------------

seeds = st.binary(min_size=32, max_size=32)
inputs = st.binary(max_size=80)


@settings(max_examples=60)
@given(seed=seeds, data=inputs, blind_seed=st.binary(max_size=32))
def test_blinded_round_trip_equals_direct_evaluation(
    seed: bytes, data: bytes, blind_seed: bytes
) -> None:
    sk, _ = oprf.derive_key_pair(seed, b"property")
    blind, blinded = oprf.blind(data, oprf.hash_to_scalar(blind_seed))
    output = oprf.finalize(data, blind, oprf.blind_evaluate(sk, blinded))
    assert output == oprf.evaluate(sk, data) == oprf.evaluate_many(sk, [data])[0]
    assert len(output) == oprf.OUTPUT_BYTES


@settings(max_examples=30)
@given(data=inputs)
def test_random_blinds_hide_the_input_but_not_the_output(data: bytes) -> None:
    sk = oprf.random_key()
    (blind_1, blinded_1), (blind_2, blinded_2) = oprf.blind(data), oprf.blind(data)
    assert blinded_1 != blinded_2
    assert oprf.finalize(data, blind_1, oprf.blind_evaluate(sk, blinded_1)) == oprf.finalize(
        data, blind_2, oprf.blind_evaluate(sk, blinded_2)
    )


@settings(max_examples=30)
@given(seed_1=seeds, seed_2=seeds, data=inputs)
def test_different_keys_give_different_outputs(seed_1: bytes, seed_2: bytes, data: bytes) -> None:
    sk_1, _ = oprf.derive_key_pair(seed_1, b"")
    sk_2, _ = oprf.derive_key_pair(seed_2, b"")
    assert (oprf.evaluate(sk_1, data) == oprf.evaluate(sk_2, data)) == (seed_1 == seed_2)


def test_different_inputs_give_different_outputs() -> None:
    outputs = oprf.evaluate_many(SK_SM, [b"", b"\x00", b"a", b"b", b"email:a@example.org"])
    assert len(set(outputs)) == 5


def test_random_keys_are_valid_and_distinct() -> None:
    keys = {oprf.random_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(0 < int.from_bytes(k, "little") < oprf.GROUP_ORDER for k in keys)


def test_key_info_and_seed_change_the_derived_key() -> None:
    sk, _ = oprf.derive_key_pair(SEED, KEY_INFO)
    assert oprf.derive_key_pair(SEED, b"other")[0] != sk
    assert oprf.derive_key_pair(bytes(32), KEY_INFO)[0] != sk


# --- rejection ----------------------------------------------------------------------------

VALID_ELEMENT = bytes.fromhex(RFC9497_A_1_1[0].blinded_element)
INVALID_ELEMENTS = {
    "identity": bytes(32),
    "all-ones": b"\xff" * 32,  # field element above p: not canonical
    "high-bit-set": VALID_ELEMENT[:31] + bytes([VALID_ELEMENT[31] | 0x80]),
    "negative-s": b"\x01" + bytes(31),  # odd s is "negative": never a ristretto encoding
}


@pytest.mark.parametrize("element", INVALID_ELEMENTS.values(), ids=INVALID_ELEMENTS.keys())
def test_invalid_elements_are_rejected(element: bytes) -> None:
    with pytest.raises(OprfError, match="blinded element is not a (valid|canonical)"):
        oprf.blind_evaluate(SK_SM, element)
    with pytest.raises(OprfError, match="evaluated element is not a (valid|canonical)"):
        oprf.finalize(b"x", bytes.fromhex(RFC9497_A_1_1[0].blind), element)


@settings(max_examples=100)
@given(element=st.binary(min_size=32, max_size=32))
def test_random_bytes_are_evaluated_only_when_valid(element: bytes) -> None:
    # libsodium's own check accepts the identity and, in 1.0.18, a set bit 255: RFC 9496 does not.
    canonical = element[31] < 0x80 and element != bytes(32)
    if canonical and rbcl.crypto_core_ristretto255_is_valid_point(element):
        assert len(oprf.blind_evaluate(SK_SM, element)) == oprf.ELEMENT_BYTES
    else:
        with pytest.raises(OprfError):
            oprf.blind_evaluate(SK_SM, element)


@pytest.mark.parametrize("element", INVALID_ELEMENTS.values(), ids=INVALID_ELEMENTS.keys())
def test_a_bad_element_in_a_batch_is_located(element: bytes) -> None:
    batch = [VALID_ELEMENT, VALID_ELEMENT, element, VALID_ELEMENT]
    with pytest.raises(OprfError, match=r"\(item 2 of 4\)"):
        oprf.blind_evaluate_many(SK_SM, batch)


def test_the_top_bit_variant_is_refused_although_libsodium_decodes_it() -> None:
    variant = INVALID_ELEMENTS["high-bit-set"]
    assert rbcl.crypto_scalarmult_ristretto255(SK_SM, variant) == oprf.blind_evaluate(
        SK_SM, VALID_ELEMENT
    )
    with pytest.raises(OprfError, match="canonical"):
        oprf.blind_evaluate(SK_SM, variant)


@pytest.mark.parametrize("element", [b"", bytes(31), VALID_ELEMENT + b"\x00"])
def test_wrong_length_elements_are_rejected(element: bytes) -> None:
    with pytest.raises(OprfError, match="32 bytes"):
        oprf.blind_evaluate(SK_SM, element)
    with pytest.raises(OprfError, match="32 bytes"):
        oprf.finalize(b"x", SK_SM, element)


BAD_SCALARS = {
    "zero": bytes(32),
    "order": oprf.GROUP_ORDER.to_bytes(32, "little"),
    "above-order": b"\xff" * 32,
    "short": SK_SM[:31],
}


@pytest.mark.parametrize("scalar", BAD_SCALARS.values(), ids=BAD_SCALARS.keys())
def test_bad_keys_and_blinds_are_rejected(scalar: bytes) -> None:
    with pytest.raises(OprfError, match="OPRF key"):
        oprf.evaluate(scalar, b"x")
    with pytest.raises(OprfError, match="OPRF key"):
        oprf.blind_evaluate_many(scalar, [VALID_ELEMENT])
    with pytest.raises(OprfError, match="blind"):
        oprf.blind(b"x", scalar)
    with pytest.raises(OprfError, match="blind"):
        oprf.finalize(b"x", scalar, VALID_ELEMENT)


def test_inputs_longer_than_the_two_byte_frame_are_rejected() -> None:
    too_long = bytes(oprf.MAX_INPUT_BYTES + 1)
    assert len(oprf.evaluate(SK_SM, too_long[:-1])) == oprf.OUTPUT_BYTES
    for call in (
        lambda: oprf.evaluate_many(SK_SM, [b"ok", too_long]),
        lambda: oprf.blind(too_long),
        lambda: oprf.finalize(too_long, SK_SM, VALID_ELEMENT),
        lambda: oprf.derive_key_pair(SEED, too_long),
    ):
        with pytest.raises(OprfError, match="at most 65535"):
            call()


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(OprfError, match="seed must be 32 bytes"):
        oprf.derive_key_pair(SEED[:16], KEY_INFO)


def test_oprf_error_is_a_breachwatch_error() -> None:
    assert issubclass(OprfError, BreachwatchError)


# --- key files ----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_key_loads_back_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "deeper" / "oprf.key"
    assert oprf.save_key(path, SK_SM) == path
    assert oprf.load_key(path) == SK_SM
    assert path.read_text(encoding="ascii") == SK_SM.hex() + "\n"
    assert _mode(path) == 0o600
    assert _mode(path.parent) == _mode(path.parent.parent) == 0o700


def test_existing_key_is_kept_unless_overwrite(tmp_path: Path) -> None:
    path = oprf.save_key(tmp_path / "oprf.key", SK_SM)
    other = oprf.random_key()
    with pytest.raises(OprfError, match="already exists") as caught:
        oprf.save_key(path, other)
    assert caught.value.path == path
    assert oprf.load_key(path) == SK_SM
    os.chmod(path, 0o644)
    oprf.save_key(path, other, overwrite=True)
    assert (oprf.load_key(path), _mode(path)) == (other, 0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oprf.key"]


def test_save_key_refuses_an_invalid_key(tmp_path: Path) -> None:
    with pytest.raises(OprfError, match="OPRF key"):
        oprf.save_key(tmp_path / "oprf.key", bytes(32))
    assert not (tmp_path / "oprf.key").exists()


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "oprf.key"
    with pytest.raises(OprfError, match="not found") as caught:
        oprf.load_key(path)
    assert str(path) in str(caught.value) and caught.value.path == path


def test_unreadable_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(OprfError, match="cannot read") as caught:
        oprf.load_key(tmp_path)  # a directory
    assert str(tmp_path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_key_file_without_read_permission_is_named(tmp_path: Path) -> None:
    path = oprf.save_key(tmp_path / "oprf.key", SK_SM)
    path.chmod(0)
    with pytest.raises(OprfError, match="cannot read"):
        oprf.load_key(path)


MALFORMED_KEY_FILES = {
    "empty": b"",
    "not-hex": b"this is not a key\n",
    "binary": b"\x89PNG\r\n\x1a\n\xff\xfe",
    "short": SK_SM[:31].hex().encode(),
    "long": (SK_SM + b"\x00").hex().encode(),
    "zero": bytes(32).hex().encode(),
    "not-reduced": (b"\xff" * 32).hex().encode(),
    "huge": b"00" * 100_000,
}


@pytest.mark.parametrize("content", MALFORMED_KEY_FILES.values(), ids=MALFORMED_KEY_FILES.keys())
def test_malformed_key_file_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "oprf.key"
    path.write_bytes(content)
    with pytest.raises(OprfError, match="malformed OPRF key file") as caught:
        oprf.load_key(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_key_file_tolerates_surrounding_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "oprf.key"
    path.write_text(f"  {SK_SM.hex().upper()}\r\n\n", encoding="ascii")
    assert oprf.load_key(str(path)) == SK_SM


def test_no_copy_of_libsodium_is_left_in_the_temporary_directory() -> None:
    # rbcl writes its libsodium to a new temporary file on each import; every process that
    # imports the OPRF (server, index workers) would leave 2.8 MB behind.
    code = (
        "import os, sys, breachwatch.lookup.evaluator; "
        "path = sys.modules['rbcl._sodium'].lib_path; "
        "print(path, os.path.exists(path))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    path, exists = done.stdout.split()
    assert path.startswith(tempfile.gettempdir()) and exists == "False"
