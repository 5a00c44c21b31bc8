"""RFC 9497 OPRF, mode 0x00 (plain OPRF), suite ristretto255-SHA512, on libsodium.

libsodium comes bundled with ``rbcl``: PyNaCl has no ristretto255. Scalars are 32-byte
little-endian encodings below the group order L, elements are 32-byte canonical ristretto255
encodings and outputs are 64-byte SHA-512 digests, all as in RFC 9497 section 4.1.

The client blinds its input, the server multiplies the blinded element by its key, the client
unblinds and hashes. The server can also evaluate an input directly (``evaluate``), with the
same output: that is how the lookup index is built, so ``evaluate_many`` is the hot path.

Speed, per evaluation on one core: about 3 us of SHA-512, 14 us of libsodium's Elligator map
and 50 us of its variable-base scalar multiplication, so some 15 000 evaluations a second.
rbcl's argument checks cost about 0.3 us a call: calling libsodium through ctypes ourselves
would gain under 1 %, so we use rbcl's API. ctypes releases the GIL during each libsodium call,
but the calls are too short for threads to share the interpreter well: the index build
evaluates in processes (evaluator.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import rbcl

from breachwatch.errors import BreachwatchError


def _remove_rbcl_library_copy() -> None:
    """rbcl writes its bundled libsodium to a new temporary file on every import and never
    removes it (2.8 MB per process: the server, each index worker, each test run). Once loaded,
    the library stays mapped after its file is unlinked."""
    loaded = sys.modules.get("rbcl._sodium")  # the module (the package's ``_sodium`` is the CDLL)
    path = getattr(loaded, "lib_path", None)
    if isinstance(path, str) and os.path.basename(path).startswith("tmp"):
        # Already gone, or another platform's rules: at worst a temporary file is left.
        with contextlib.suppress(OSError):
            os.unlink(path)


_remove_rbcl_library_copy()

__all__ = [
    "CONTEXT_STRING",
    "DERIVE_KEY_PAIR_DST",
    "ELEMENT_BYTES",
    "GROUP_ORDER",
    "HASH_TO_GROUP_DST",
    "HASH_TO_SCALAR_DST",
    "MAX_INPUT_BYTES",
    "MODE_OPRF",
    "OUTPUT_BYTES",
    "SCALAR_BYTES",
    "SUITE_IDENTIFIER",
    "OprfError",
    "blind",
    "blind_evaluate",
    "blind_evaluate_many",
    "derive_key_pair",
    "evaluate",
    "evaluate_many",
    "expand_message_xmd",
    "finalize",
    "hash_to_group",
    "hash_to_scalar",
    "load_key",
    "random_key",
    "save_key",
]

MODE_OPRF = 0x00
SUITE_IDENTIFIER = b"ristretto255-SHA512"
CONTEXT_STRING = b"OPRFV1-" + bytes([MODE_OPRF]) + b"-" + SUITE_IDENTIFIER
HASH_TO_GROUP_DST = b"HashToGroup-" + CONTEXT_STRING
HASH_TO_SCALAR_DST = b"HashToScalar-" + CONTEXT_STRING
DERIVE_KEY_PAIR_DST = b"DeriveKeyPair" + CONTEXT_STRING  # no hyphen here: RFC 9497 3.2.1

ELEMENT_BYTES = 32  # Ne
SCALAR_BYTES = 32  # Ns
OUTPUT_BYTES = 64  # Nh
# Inputs and key info are framed with a two-byte length (I2OSP(len(x), 2)).
MAX_INPUT_BYTES = 0xFFFF
# Order L of ristretto255 (RFC 9496 4.1); a serialized scalar must lie in [1, L).
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493

_SHA512_BLOCK = 128  # s_in_bytes of RFC 9380 5.3.1: Z_pad is one zero block
_SHA512_DIGEST = 64  # b_in_bytes
_UNIFORM_BYTES = 64  # hash_to_ristretto255 and HashToScalar both expand to 64 bytes
_AFTER_Z_PAD = hashlib.sha512(bytes(_SHA512_BLOCK))  # copied, never updated in place
_ZERO_SCALAR = bytes(SCALAR_BYTES)
_IDENTITY_ENCODING = bytes(ELEMENT_BYTES)
_ELEMENT_LENGTH = ELEMENT_BYTES.to_bytes(2, "big")
_FINALIZE_LABEL = b"Finalize"

_BAD_BLINDED = "blinded element is not a valid ristretto255 element, or is the identity"
_BAD_EVALUATED = "evaluated element is not a valid ristretto255 element, or is the identity"
_IDENTITY_INPUT = "the OPRF input hashes to the identity element"

# rbcl ships no type information: its functions are bound here, once, with their types.
_from_hash: Callable[[bytes], bytes] = rbcl.crypto_core_ristretto255_from_hash
_is_valid_element: Callable[[bytes], bool] = rbcl.crypto_core_ristretto255_is_valid_point
_scalarmult: Callable[[bytes, bytes], bytes] = rbcl.crypto_scalarmult_ristretto255
_scalarmult_base: Callable[[bytes], bytes] = rbcl.crypto_scalarmult_ristretto255_base
_scalar_reduce: Callable[[bytes], bytes] = rbcl.crypto_core_ristretto255_scalar_reduce
_scalar_invert: Callable[[bytes], bytes] = rbcl.crypto_core_ristretto255_scalar_invert
_scalar_random: Callable[[], bytes] = rbcl.crypto_core_ristretto255_scalar_random


class OprfError(BreachwatchError):
    """An input, element or key the protocol must reject; ``path`` names the key file at fault."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


# --- hashing (RFC 9380 5.3.1, RFC 9497 4.1) -------------------------------------------------


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """expand_message_xmd of RFC 9380 5.3.1 with SHA-512.

    Every evaluation of the index build runs it once (hash_to_group), so the hash state after
    Z_pad, always the same block, is computed once and copied, the message is fed to it rather
    than concatenated, and the suite's own framing is prepared once (``_xmd_framing``); the
    tests hold it to a plain transcription of the RFC.
    """
    if len(dst) > 255:  # RFC 9380 5.3.3: an oversize DST is replaced by its hash
        dst = _sha512(b"H2C-OVERSIZE-DST-" + dst)
    framing = _SUITE_FRAMING.get((dst, len_in_bytes)) or _xmd_framing(dst, len_in_bytes)
    after_msg, dst_prime = framing
    state = _AFTER_Z_PAD.copy()
    state.update(msg)
    state.update(after_msg)
    b_0 = state.digest()
    b_i = _sha512(b_0 + b"\x01" + dst_prime)
    if len_in_bytes <= _SHA512_DIGEST:  # the suite's 64 bytes: one block, nothing to join
        return b_i[:len_in_bytes]
    blocks = [b_i]
    for i in range(2, -(-len_in_bytes // _SHA512_DIGEST) + 1):
        b_i = _sha512(_xor(b_0, b_i) + bytes([i]) + dst_prime)
        blocks.append(b_i)
    return b"".join(blocks)[:len_in_bytes]


def _xmd_framing(dst: bytes, len_in_bytes: int) -> tuple[bytes, bytes]:
    """(what follows msg in b_0's input: l_i_b_str || I2OSP(0, 1) || DST_prime; DST_prime)."""
    if -(-len_in_bytes // _SHA512_DIGEST) > 255 or not 0 <= len_in_bytes <= 0xFFFF:
        raise ValueError(f"expand_message_xmd cannot produce {len_in_bytes} bytes")
    dst_prime = dst + bytes([len(dst)])
    return len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime, dst_prime


# The framings of the suite's own expansions, prepared once (the DSTs are at most 255 bytes).
_SUITE_FRAMING = {
    (dst, _UNIFORM_BYTES): _xmd_framing(dst, _UNIFORM_BYTES)
    for dst in (HASH_TO_GROUP_DST, HASH_TO_SCALAR_DST, DERIVE_KEY_PAIR_DST)
}


def hash_to_group(msg: bytes) -> bytes:
    """HashToGroup: hash_to_ristretto255 (RFC 9380 appendix B) under the suite's DST."""
    return _from_hash(expand_message_xmd(msg, HASH_TO_GROUP_DST, _UNIFORM_BYTES))


def hash_to_scalar(msg: bytes, dst: bytes = HASH_TO_SCALAR_DST) -> bytes:
    """HashToScalar: 64 uniform bytes read as a little-endian integer, reduced mod L."""
    return _scalar_reduce(expand_message_xmd(msg, dst, _UNIFORM_BYTES))


def _sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


# --- keys ---------------------------------------------------------------------------------


def derive_key_pair(seed: bytes, info: bytes) -> tuple[bytes, bytes]:
    """DeriveKeyPair (RFC 9497 3.2.1): (skS, pkS), the same for the same seed and info."""
    if len(seed) != SCALAR_BYTES:
        raise OprfError(f"the key seed must be {SCALAR_BYTES} bytes, not {len(seed)}")
    _check_length(info, "key info")
    derive_input = bytes(seed) + len(info).to_bytes(2, "big") + bytes(info)
    for counter in range(256):
        sk = hash_to_scalar(derive_input + bytes([counter]), DERIVE_KEY_PAIR_DST)
        if sk != _ZERO_SCALAR:
            return sk, _scalarmult_base(sk)
    # Each try is zero with probability 1/L: reaching this line is not a practical concern.
    raise OprfError("DeriveKeyPair found no non-zero scalar in 256 tries")


def random_key() -> bytes:
    """A fresh server key: a uniformly random non-zero scalar from libsodium's CSPRNG."""
    return _scalar_random()


def _check_scalar(value: bytes, what: str) -> bytes:
    """DeserializeScalar plus the protocol's rule that keys and blinds are never zero."""
    if len(value) != SCALAR_BYTES:
        raise OprfError(f"{what} must be {SCALAR_BYTES} bytes, not {len(value)}")
    if not 0 < int.from_bytes(value, "little") < GROUP_ORDER:
        raise OprfError(f"{what} is not a scalar in [1, L): zero or not reduced mod L")
    return bytes(value)


def _check_length(data: bytes, what: str) -> None:
    if len(data) > MAX_INPUT_BYTES:
        raise OprfError(f"{what} is {len(data)} bytes; RFC 9497 allows at most {MAX_INPUT_BYTES}")


# --- client -------------------------------------------------------------------------------


def blind(input: bytes, blind: bytes | None = None) -> tuple[bytes, bytes]:
    """Client Blind: (blind scalar, blinded element). A fixed ``blind`` is for test vectors."""
    if blind is None:
        blind = _scalar_random()
    blind = _check_scalar(blind, "blind")
    _check_length(input, "OPRF input")
    return blind, _multiply(blind, hash_to_group(input), _IDENTITY_INPUT)


def finalize(input: bytes, blind: bytes, evaluated_element: bytes) -> bytes:
    """Client Finalize: unblind the server's answer and hash it with the input (64 bytes)."""
    _check_length(input, "OPRF input")
    inverse = _scalar_invert(_check_scalar(blind, "blind"))
    _check_encoding(evaluated_element, "evaluated element")
    return _finalize_hash(input, _multiply(inverse, evaluated_element, _BAD_EVALUATED))


def _finalize_hash(input: bytes, element: bytes) -> bytes:
    framed_input = len(input).to_bytes(2, "big") + input
    return _sha512(framed_input + _ELEMENT_LENGTH + element + _FINALIZE_LABEL)


# --- server -------------------------------------------------------------------------------


def blind_evaluate(sk: bytes, blinded_element: bytes) -> bytes:
    """Server BlindEvaluate: sk times the client's element, which must be valid, not identity."""
    return blind_evaluate_many(sk, (blinded_element,))[0]


def blind_evaluate_many(sk: bytes, elements: Sequence[bytes]) -> list[bytes]:
    """BlindEvaluate a batch: the key is checked once, the loop runs on locals only."""
    sk = _check_scalar(sk, "OPRF key")
    if any(len(element) != ELEMENT_BYTES or element[-1] & 0x80 for element in elements):
        for i, element in enumerate(elements):
            _check_encoding(element, "blinded element", _position(i, elements))
    multiply = _scalarmult
    try:
        return [multiply(sk, element) for element in elements]
    except RuntimeError:  # libsodium refused an encoding, or the element is the identity
        raise OprfError(_BAD_BLINDED + _position_of_invalid(elements)) from None


def evaluate(sk: bytes, input: bytes) -> bytes:
    """Server Evaluate: the OPRF output for ``input``, as the client would finalize it."""
    return evaluate_many(sk, (input,))[0]


def evaluate_many(sk: bytes, inputs: Sequence[bytes]) -> list[bytes]:
    """Evaluate a batch (the index build): the key is checked once, the loop runs on locals."""
    sk = _check_scalar(sk, "OPRF key")
    if max(map(len, inputs), default=0) > MAX_INPUT_BYTES:  # one C loop; the message below
        for item in inputs:
            _check_length(item, "OPRF input")
    to_group, multiply, output = hash_to_group, _scalarmult, _finalize_hash
    try:
        return [output(item, multiply(sk, to_group(item))) for item in inputs]
    except RuntimeError:  # libsodium: the identity, reachable only by breaking SHA-512
        raise OprfError(_IDENTITY_INPUT) from None


def _check_encoding(element: bytes, what: str, position: str = "") -> None:
    if len(element) != ELEMENT_BYTES:
        raise OprfError(f"{what} must be {ELEMENT_BYTES} bytes, not {len(element)}{position}")
    # libsodium 1.0.18, the one rbcl bundles, ignores bit 255 when decoding: it would accept a
    # second encoding of every element. RFC 9496 4.3.1 requires rejecting it (the value is >= p).
    if element[-1] & 0x80:
        raise OprfError(f"{what} is not a canonical ristretto255 encoding{position}")


def _multiply(scalar: bytes, element: bytes, failure: str) -> bytes:
    try:
        return _scalarmult(scalar, element)
    except RuntimeError:  # libsodium refused an encoding, or the element is the identity
        raise OprfError(failure) from None


def _position_of_invalid(elements: Sequence[bytes]) -> str:
    """Which element of a batch libsodium refused, searched for on the error path only."""
    valid = _is_valid_element  # accepts the identity, which the protocol must refuse
    bad = (i for i, e in enumerate(elements) if e == _IDENTITY_ENCODING or not valid(e))
    first = next(bad, None)
    return "" if first is None else _position(first, elements)


def _position(index: int, batch: Sequence[bytes]) -> str:
    return "" if len(batch) == 1 else f" (item {index} of {len(batch)})"


# --- key files ----------------------------------------------------------------------------

_KEY_FILE_MAX_BYTES = 4096  # a key file is 65 bytes; never slurp a wrong path's gigabytes


def save_key(path: Path | str, sk: bytes, *, overwrite: bool = False) -> Path:
    """Write ``sk`` as hex to a 0600 file, creating missing parent directories 0700.

    An existing file is kept unless ``overwrite``: losing the key makes the index useless.
    """
    path = Path(path)
    text = _check_scalar(sk, "OPRF key").hex() + "\n"
    try:
        _make_private_dirs(path.parent)
        if overwrite:
            _replace_private_file(path, text)
        else:
            _write_private_file(path, text, os.O_EXCL)
    except FileExistsError:
        raise OprfError("an OPRF key file already exists here; not overwriting it", path) from None
    except OSError as exc:
        raise OprfError(f"cannot write the OPRF key file: {exc.strerror}", path) from None
    return path


def load_key(path: Path | str) -> bytes:
    """Read a key written by ``save_key``; any problem is an OprfError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(_KEY_FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        raise OprfError("OPRF key file not found", path) from None
    except OSError as exc:
        raise OprfError(f"cannot read the OPRF key file: {exc.strerror}", path) from None
    if len(raw) > _KEY_FILE_MAX_BYTES:
        raise OprfError("malformed OPRF key file: far too large to be a key", path)
    try:
        sk = bytes.fromhex(raw.decode("ascii").strip())
    except ValueError:  # UnicodeDecodeError included; the message never echoes key material
        raise OprfError("malformed OPRF key file: expected 64 hex digits", path) from None
    try:
        return _check_scalar(sk, "the OPRF key")
    except OprfError as exc:
        raise OprfError(f"malformed OPRF key file: {exc.message}", path) from None


def _make_private_dirs(directory: Path) -> None:
    """Create missing directories one at a time: ``mkdir -p`` would leave parents at the umask."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700, exist_ok=True)


def _write_private_file(path: Path, text: str, extra_flags: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | extra_flags, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _replace_private_file(path: Path, text: str) -> None:
    """Write beside ``path`` and rename over it, so a crash leaves the old key or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # a crashed earlier run's leftover
    try:
        _write_private_file(temporary, text, os.O_EXCL)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
