"""Shanghai addresses as the sources write them -> their parts.

    上海市静安区南京西路１２６６号恒隆广场2座15层1501室
    -> district 310106, road 南京西路, number 1266, building 2, floor 15, room 1501

A pure function: no catalog, no I/O. The caller passes the district names it
knows (today's, from schemas/sources/, and legacy, e.g. 闸北区 -> 310106,
from schemas/reference.yaml). An address without a known district, a road and a
number (or a lane: 弄) does not parse: the row keeps the address as sent and
is flagged `address_unparsed`, never dropped.

Forms read:
  * 上海市 / 上海 in front, or not; the district's full name (区/县/新区);
    a town or sub-district (…镇, …街道) between district and road is skipped
  * road: …路 / …街 / …大道 / …公路 / …大街; lane …弄
  * number …号 (also 12-14号); building …号楼 / …栋 / …幢 / …座 (digits or a
    letter, e.g. A座), after an optional building name (恒隆广场)
  * floor …层 / …楼, room …室
  * full-width digits and letters, blanks anywhere
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import NamedTuple

# the parts, in the order of the silver columns address_<part>
PARTS = ("district", "road", "lane", "number", "building", "floor", "room")

_CJK = r"\u4e00-\u9fff"
_BODY = re.compile(
    rf"""
    (?:(?P<town>[{_CJK}]{{1,6}}?(?:镇|街道)))?                 # 九亭镇, 静安寺街道 (skipped)
    (?P<road>[{_CJK}A-Z0-9]*?[{_CJK}](?:大道|公路|大街|路|街))   # 南京西路, 世纪大道, 沪太公路
    (?:(?P<lane>\d+)弄)?                                        # 1000弄
    (?:(?P<number>\d+(?:-\d+)?)号(?!楼))?                       # 1266号, 12-14号 (not 3号楼)
    (?:(?P<name>[{_CJK}]{{2,12}}?)?(?P<building>[A-Z]|\d+)(?:号楼|栋|幢|座))?   # 恒隆广场2座
    (?:(?P<floor>B?\d+)(?:层|楼))?                              # 15层, 15楼, B1层
    (?:(?P<room>[A-Z]?\d+[A-Z]?)室)?                            # 1501室
    $""",
    re.VERBOSE,
)
_CITY_PREFIX = ("上海市", "上海")
_DROP = str.maketrans("", "", " \t\r\n\u3000,，")


class ParsedAddress(NamedTuple):
    district: str          # division code of today's district (legacy names mapped)
    road: str
    lane: str | None
    number: str | None
    building: str | None
    floor: str | None
    room: str | None


def _split_district(text: str, names: Mapping[str, str]) -> tuple[str, str] | None:
    for prefix in _CITY_PREFIX:
        if text.startswith(prefix) and not text.startswith(prefix + "路"):
            text = text[len(prefix):]
            break
    # longest name first (浦东新区 before a shorter name it might start with); district
    # names are 2 to 6 characters, so a few dictionary look-ups find it
    for length in range(6, 1, -1):
        code = names.get(text[:length])
        if code is not None:
            return code, text[length:]
    return None


def parse_address(text: str | None, names: Mapping[str, str]) -> ParsedAddress | None:
    """The parts of `text`, or None if it does not read as a Shanghai street
    address (no known district, no road, no number or lane, or text left over).
    `names` is Catalog.address_district_names."""
    if not text:
        return None
    s = unicodedata.normalize("NFKC", text).translate(_DROP).upper()
    split = _split_district(s, names)
    if split is None:
        return None
    district, rest = split
    m = _BODY.match(rest)
    if m is None or (m["number"] is None and m["lane"] is None):
        return None
    return ParsedAddress(district, m["road"], m["lane"], m["number"], m["building"], m["floor"], m["room"])
