"""Canonical identifiers for synthetic people, phones, vehicles, places and records.

Every value produced here is already in the contract's canonical form (18-character ID with a
valid GB 11643 check digit, E.164 phone, folded plate); ``spelling`` turns them into the raw
forms real files carry. Uniqueness is by construction, so no identifier is ever reused by
accident.
"""

from __future__ import annotations

import numpy as np

from loaders.normalize import id_check_digit

# Mobile prefixes whose every 8-digit continuation the phonenumbers metadata accepts as valid.
MOBILE_PREFIXES = np.array([130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152,
                            153, 155, 156, 157, 158, 159, 166, 176, 177, 178, 180, 181, 182,
                            183, 184, 185, 186, 187, 188, 189, 198, 199])
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are never issued
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
            "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红文辉鹏飞宇浩然俊"
         "博涵梓轩子怡欣雨婷佳琪思远志强晓东海燕丹凤春梅永庆德胜宏亮建华立新光荣世杰")
STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "文化路", "新华路", "长江路",
           "学院路", "胜利路", "青年路", "光明街", "迎宾大道", "滨江大道", "体育场路", "南京路")
CARRIERS = (("顺丰速运", "SF"), ("中通快递", "ZT"), ("圆通速递", "YT"), ("韵达快递", "YD"),
            ("京东物流", "JD"), ("邮政EMS", "EM"))


def id_numbers(rng: np.random.Generator, districts: list[str], n: int, taken: set[str],
               born_from: int = 1950, born_to: int = 2004) -> tuple[list[str], np.ndarray]:
    """``n`` canonical ID numbers not in ``taken`` (which is updated), and a legacy mask.

    Parameters
    ----------
    rng : numpy Generator
    districts : six-digit district codes to draw from
    n : how many
    taken : ID numbers already issued
    born_from, born_to : birth-year range (inclusive)

    Returns
    -------
    (ids, legacy_ok) : the 18-character IDs and whether a 15-digit legacy form exists
    """
    out: list[str] = []
    while len(out) < n:
        for body in _id_bodies(rng, districts, n - len(out), born_from, born_to).tolist():
            text = str(body)
            id_no = text + id_check_digit(text)
            if id_no not in taken:
                taken.add(id_no)
                out.append(id_no)
    legacy_ok = np.array([i[6:8] == "19" for i in out], dtype=bool)
    return out, legacy_ok


def _id_bodies(rng: np.random.Generator, districts: list[str], n: int, born_from: int,
               born_to: int) -> np.ndarray:
    """The first 17 digits as integers: district, birth date, sequence (last digit = sex)."""
    district = np.array([int(d) for d in districts], dtype=np.int64)[
        rng.integers(0, len(districts), n)]
    first = np.datetime64(f"{born_from}-01-01")
    span = int((np.datetime64(f"{born_to}-12-31") - first).astype(int))
    born = first + rng.integers(0, span, n).astype("timedelta64[D]")
    year = born.astype("datetime64[Y]").astype(int) + 1970
    month = born.astype("datetime64[M]").astype(int) % 12 + 1
    day = (born - born.astype("datetime64[M]")).astype(int) + 1
    ymd = year * 10000 + month * 100 + day
    seq = rng.integers(1, 1000, n)
    return district * 10**11 + ymd.astype(np.int64) * 1000 + seq


def legacy_form(id_no: str) -> str:
    """The 15-digit legacy spelling of an 18-character ID born in the 1900s."""
    return id_no[:6] + id_no[8:17]


def phones(rng: np.random.Generator, n: int, taken: set[int]) -> list[str]:
    """``n`` distinct E.164 mobile numbers not in ``taken`` (which is updated)."""
    out: list[str] = []
    while len(out) < n:
        prefix = rng.choice(MOBILE_PREFIXES, n)
        numbers = prefix.astype(np.int64) * 10**8 + rng.integers(0, 10**8, n)
        for number in numbers.tolist():
            if number not in taken and len(out) < n:
                taken.add(number)
                out.append(f"+86{number}")
    return out


def plates(rng: np.random.Generator, prefixes: list[str], n: int, taken: set[str]) -> list[str]:
    """``n`` distinct canonical plates (5-character serials; about 1 in 8 new-energy ``D``)."""
    out: list[str] = []
    alphabet = np.array(list("0123456789" * 8 + PLATE_LETTERS))
    while len(out) < n:
        heads = rng.integers(0, len(prefixes), n)
        serials = rng.choice(alphabet, (n, 5))
        green = rng.random(n) < 0.12
        for head, serial, is_green in zip(heads.tolist(), serials, green.tolist(), strict=True):
            plate = prefixes[head] + ("D" if is_green else "") + "".join(serial)
            if plate not in taken and len(out) < n:
                taken.add(plate)
                out.append(plate)
    return out


def names(rng: np.random.Generator, n: int) -> list[str]:
    """Two- and three-character Chinese personal names."""
    sur = rng.integers(0, len(SURNAMES), n)
    g1 = rng.integers(0, len(GIVEN), n)
    g2 = rng.integers(0, len(GIVEN), n)
    two = rng.random(n) < 0.35
    return [SURNAMES[s] + GIVEN[a] + ("" if t else GIVEN[b])
            for s, a, b, t in zip(sur.tolist(), g1.tolist(), g2.tolist(), two.tolist(),
                                  strict=True)]


def addresses(rng: np.random.Generator, province: str, city: str,
              districts: list[str], n: int, taken: set[str]) -> list[str]:
    """``n`` distinct canonical addresses: ``省市区 路N号B幢U单元R室`` (one space inside)."""
    out: list[str] = []
    while len(out) < n:
        d = rng.integers(0, len(districts), n)
        st = rng.integers(0, len(STREETS), n)
        no = rng.integers(1, 400, n)
        bld = rng.integers(1, 30, n)
        unit = rng.integers(1, 6, n)
        room = rng.integers(1, 33, n) * 100 + rng.integers(1, 5, n)
        for row in zip(d.tolist(), st.tolist(), no.tolist(), bld.tolist(), unit.tolist(),
                       room.tolist(), strict=True):
            text = (f"{province}{city}{districts[row[0]]} {STREETS[row[1]]}{row[2]}号"
                    f"{row[3]}幢{row[4]}单元{row[5]}室")
            if text not in taken and len(out) < n:
                taken.add(text)
                out.append(text)
    return out


def waybill_number(serial: int, carrier: int) -> str:
    """A unique waybill number: carrier prefix and a 12-digit bijective scramble of serial."""
    # An affine map modulo 10**12 with a multiplier coprime to 10**12 is a bijection.
    scrambled = (serial * 387_420_489_123 + 104_729_000_001) % 10**12
    return f"{CARRIERS[carrier][1]}{scrambled:012d}"


def case_number(region_code: str, yyyymm: str, serial: int) -> str:
    """A case number in the common ``A<region><yyyymm><serial>`` shape."""
    return f"A{region_code}{yyyymm}{serial:05d}"


def imeis(rng: np.random.Generator, n: int) -> list[str]:
    """15-digit handset identifiers (TAC-like prefix, serial, Luhn check digit)."""
    bodies = rng.integers(35_000_000_000_000, 36_000_000_000_000, n)
    return [f"{b}{_luhn(str(b))}" for b in bodies.tolist()]


def _luhn(digits: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10
