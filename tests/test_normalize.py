"""Identifier normalization rules of the input contract."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loaders.normalize import (
    InvalidValue,
    id_check_digit,
    normalize_id_no,
    normalize_phone,
    normalize_plate,
)


@pytest.mark.parametrize("raw", ["138-1234-5678", "138 1234 5678", "+86 138 1234 5678",
                                 "008613812345678", "8613812345678"])
def test_contract_phone_spellings_give_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+8613812345678"


def test_bare_foreign_country_code_is_not_guessed() -> None:
    with pytest.raises(InvalidValue) as err:
        normalize_phone("12125551234")
    assert err.value.reason == "BAD_PHONE"


@pytest.mark.parametrize("raw", ["13812345678;13912345678", "13812345678；13912345678",
                                 "13812345678;ext=12"])
def test_two_numbers_in_one_cell_are_bad_phone_not_the_first(raw: str) -> None:
    with pytest.raises(InvalidValue) as err:
        normalize_phone(raw)
    assert err.value.reason == "BAD_PHONE"


def test_plate_folding() -> None:
    assert normalize_plate("浙d·12345") == "浙D12345"
    assert normalize_plate("ＡＢ－１２") == "AB12"


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_id_numbers_with_their_check_digit_normalize_to_themselves(body: str) -> None:
    full = body + id_check_digit(body)
    assert normalize_id_no(full.lower()) == full
    assert normalize_id_no(normalize_id_no(full)) == full


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_wrong_check_digit_is_bad_id_no(body: str, check: str) -> None:
    if check == id_check_digit(body):
        return
    with pytest.raises(InvalidValue) as err:
        normalize_id_no(body + check)
    assert err.value.reason == "BAD_ID_NO"


@given(st.text(max_size=20))
def test_phone_output_is_e164_or_rejected(raw: str) -> None:
    try:
        out = normalize_phone(raw)
    except InvalidValue:
        return
    assert out.startswith("+") and out[1:].isdigit()
    assert normalize_phone(out) == out
