"""Buildings and the addresses written for them.

Every district has buildings (a road, a number or a lane, sometimes a building
within the number). Entities settle in them by preferential attachment, so
most buildings hold a few entities and some office towers many. An address is
written from its parts in one of the forms the sources use (with or without
上海市, a legacy district name, 2号楼 / 2幢 / 2座, full-width digits, blanks);
a few are written so that they cannot be parsed. The parts are the answer
file's: what the pipeline must read from the text."""

from __future__ import annotations

import random

from . import vocab

# parts, in the order of the silver columns address_<part>; None = unparseable
Parts = tuple[str, str, str | None, str | None, str | None, str | None, str | None]

LEGACY_NAMES = {"310101": "卢湾区", "310106": "闸北区", "310115": "南汇区", "310151": "崇明县"}
_TOWER_NAMES = ("大厦", "广场", "中心", "国际大厦", "商务楼", "科技园")
_DESIGNATORS = ("号楼", "栋", "幢", "座")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_UNPARSEABLE = ("详见营业执照", "不详", "{district}{road}附近", "{road}{number}号")


class Buildings:
    """district code -> buildings; a building is (road, lane, number, building, name)."""

    def __init__(self, seed: int):
        self.rng = random.Random(f"{seed}:buildings")
        self.by_div: dict[str, list[tuple]] = {}
        self.tenants: dict[str, list[int]] = {}   # per district: a building index per settled entity

    def settle(self, div: str) -> int:
        """A building for one more entity of `div` (its index in by_div[div])."""
        rng = self.rng
        blds = self.by_div.setdefault(div, [])
        tenants = self.tenants.setdefault(div, [])
        if len(blds) < 4 or rng.random() < 0.3:
            blds.append(self._new(rng))
            b = len(blds) - 1
        else:   # rich get richer: a building picked with the odds of its tenant count
            b = tenants[rng.randrange(len(tenants))]
        tenants.append(b)
        return b

    @staticmethod
    def _new(rng: random.Random) -> tuple:
        road = rng.choice(vocab.ROADS)
        if rng.random() < 0.15:   # a lane compound: 100弄3号
            lane, number = str(1 + rng.randrange(1500)), str(1 + rng.randrange(60))
        else:
            lane, number = None, str(1 + rng.randrange(2000))
        building = name = None
        if rng.random() < 0.4:
            building = rng.choice("ABC") if rng.random() < 0.2 else str(1 + rng.randrange(8))
            if rng.random() < 0.5:
                name = rng.choice(vocab.BRAND_CHARS) + rng.choice(vocab.BRAND_CHARS) + rng.choice(_TOWER_NAMES)
        return road, lane, number, building, name

    def parts(self, div: str, b: int, floor: int | None, room: int | None) -> Parts:
        road, lane, number, building, _ = self.by_div[div][b]
        return (div, road, lane, number, building, None if floor is None else str(floor),
                None if room is None else str(room))


def place(rng: random.Random, buildings: Buildings, div: str, b: int) -> tuple[int | None, int | None]:
    """Floor and room of one entity in building b (either may be left out)."""
    if buildings.by_div[div][b][3] is None and rng.random() < 0.5:
        return None, None                 # a shop at street level: the number is enough
    floor = 1 + rng.randrange(30)
    room = floor * 100 + 1 + rng.randrange(20)
    r = rng.random()
    return (floor, room) if r < 0.3 else ((None, room) if r < 0.8 else (floor, None))


def render(rng: random.Random, buildings: Buildings, names: dict[str, str], div: str, b: int,
           floor: int | None, room: int | None, rates) -> tuple[str, Parts | None]:
    """The address text as a source writes it, and the parts it reads as."""
    road, lane, number, building, tower = buildings.by_div[div][b]
    if rng.random() < rates.address_unparsed:
        form = rng.choice(_UNPARSEABLE)
        return form.format(district=names[div], road=road, number=number), None
    district = LEGACY_NAMES[div] if div in LEGACY_NAMES and rng.random() < rates.address_legacy_name \
        else names[div]
    prefix = rng.choices(("上海市", "", "上海"), (70, 25, 5))[0]
    text = [prefix, district, road]
    if lane is not None:
        text.append(f"{lane}弄")
    text.append(f"{number}号")
    if building is not None:
        text.append((tower or "") if rng.random() < 0.7 else "")
        text.append(f"{building}{rng.choice(_DESIGNATORS)}")
    if floor is not None:
        text.append(f"{floor}{rng.choice(('层', '层', '楼'))}")
    if room is not None:
        text.append(f"{room}室")
    joined = (" " if rng.random() < 0.05 else "").join(t for t in text if t)
    if rng.random() < rates.address_fullwidth:
        joined = joined.translate(_FULLWIDTH)
    return joined, buildings.parts(div, b, floor, room)
